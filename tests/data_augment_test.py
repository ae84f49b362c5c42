"""The classification augmentation: shifts by an eighth of the side; colour
images are also flipped, grayscale ones (digits) are not."""

import numpy as np
import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized

from budgeted_keras import data as data_lib


def _positions(height, width, channels, row, col, count=64):
    """Where one bright pixel at (row, col) lands in `count` augmentations."""
    image = np.zeros((height, width, channels), "float32")
    image[row, col] = 1.0
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.repeat(image[None], count, 0), np.zeros(count, "int64"))
    )
    stream = data_lib.training_stream(dataset, count, seed=3, augment=True)
    images, _ = next(iter(stream))
    found = []
    for augmented in images.numpy():
        rows, cols = np.nonzero(augmented[..., 0])
        found.append((int(rows[0]), int(cols[0])))
    return found


class AugmentTest(parameterized.TestCase):
    # (shape, pixel, largest shift): an eighth of the side, at least 1.
    @parameterized.named_parameters(
        ("digits", (8, 8, 1), (3, 2), 1),
        ("cifar", (32, 32, 3), (10, 5), 4),
    )
    def test_shifts_stay_within_an_eighth_of_the_side(
        self, shape, pixel, shift
    ):
        row, col = pixel
        width = shape[1]
        positions = _positions(*shape, row, col)
        mirrored = width - 1 - col
        for r, c in positions:
            self.assertLessEqual(abs(r - row), shift)
            self.assertLessEqual(min(abs(c - col), abs(c - mirrored)), shift)
        # Every shift in range occurs.
        self.assertLen({r - row for r, _ in positions}, 2 * shift + 1)

    def test_colour_images_are_flipped_grayscale_ones_are_not(self):
        # The pixel and its mirror are 21 columns apart: far beyond a shift.
        colour = _positions(32, 32, 3, 10, 5)
        self.assertTrue(any(c > 16 for _, c in colour))
        self.assertTrue(any(c < 16 for _, c in colour))
        gray = _positions(8, 8, 1, 3, 1)
        self.assertTrue(all(c <= 2 for _, c in gray))


if __name__ == "__main__":
    absltest.main()
