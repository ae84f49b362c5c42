"""Video frames decoded at reduced JPEG scale when a clip is resized down."""

import numpy as np
import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized

from budgeted_keras.tasks import video


def _image(height, width, seed=0):
    rng = np.random.default_rng(seed)
    # A smooth gradient with a little noise: a photograph-like image.
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([y * 255 / height, x * 255 / width, (x + y) % 256], -1)
    image = image + rng.integers(-8, 9, image.shape)
    return np.clip(image, 0, 255).astype("uint8")


def _jpeg(height, width):
    return tf.io.encode_jpeg(_image(height, width), quality=90)


class DecodeFrameTest(parameterized.TestCase):
    # Sizes worked out by hand: the scale 1/r keeps ceil(side / r) pixels,
    # and the smallest scale whose sides are all >= min_size is chosen.
    @parameterized.named_parameters(
        ("full_without_min_size", (256, 256), None, (256, 256)),
        ("quarter_for_36", (256, 256), (36, 36), (64, 64)),
        ("quarter_at_the_boundary", (256, 256), (64, 64), (64, 64)),
        ("half_just_above_a_quarter", (256, 256), (65, 65), (128, 128)),
        ("eighth_for_tiny", (256, 256), (16, 16), (32, 32)),
        ("full_when_needed", (256, 256), (256, 256), (256, 256)),
        ("odd_sides_round_up", (240, 321), (30, 30), (30, 41)),
        ("smaller_side_decides", (240, 320), (100, 50), (120, 160)),
    )
    def test_jpeg_scale(self, shape, min_size, expected):
        encoded = _jpeg(*shape)
        frame = video.decode_frame(encoded, min_size)
        self.assertEqual(tuple(frame.shape), (*expected, 3))
        ratio = shape[0] // expected[0] if expected[0] < shape[0] else 1
        np.testing.assert_array_equal(
            frame, tf.io.decode_jpeg(encoded, channels=3, ratio=ratio)
        )

    def test_png_is_decoded_at_full_size(self):
        image = _image(64, 48)
        frame = video.decode_frame(tf.io.encode_png(image), (8, 8))
        np.testing.assert_array_equal(frame, image)

    def test_scaled_frame_is_close_to_the_resized_full_frame(self):
        encoded = _jpeg(256, 256)
        full = tf.io.decode_jpeg(encoded, channels=3)
        scaled = video.decode_frame(encoded, (36, 36))
        reference = tf.image.resize(full, (36, 36), antialias=True)
        difference = tf.abs(tf.image.resize(scaled, (36, 36)) - reference)
        self.assertLess(float(tf.reduce_mean(difference)), 4.0)

    def test_clip_frames_are_scaled_alike_in_a_traced_function(self):
        encoded = tf.stack([_jpeg(256, 256)] * 5)

        @tf.function
        def clip(frames):
            return video.sample_clip(
                frames, 3, 2, random=False, min_size=(36, 36)
            )

        self.assertEqual(tuple(clip(encoded).shape), (3, 64, 64, 3))


if __name__ == "__main__":
    absltest.main()
