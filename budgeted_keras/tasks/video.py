"""Video classification: KerasCV VideoClassifier on VideoSwin; clip top-1.

UCF101 (TFDS `ucf101`, split 1 at 256x256: 9,537 training and 3,783
test videos) is read with its frames still encoded; each example
decodes only the frames of one clip of `frames` frames taken every
`stride` frames (a random start for training, the central clip for
evaluation; short videos repeat their last frame). Frames are resized
to `resize` and cropped to the input size: a random crop and a random
horizontal flip for training, shared by all frames of the clip (KerasCV's
image layers would draw them per frame), the central crop for
evaluation. The random start, crop and flip of each training example
come from a stateless seed drawn from the stream's seed, so a seed gives
the same batches although examples are prepared in parallel. The metric
is clip top-1: the accuracy of one central clip per video.

UCF101's frames are JPEG images; decoding the clip's frames is nearly
all of the pipeline's work (about 0.4-0.8 ms a 256x256 frame on one CPU
core). Frames at least twice the `resize` size are decoded at a reduced
JPEG scale (`decode_frame`), about half the cost for the small
configuration's 36x36 frames.
"""

import keras
import tensorflow as tf

from budgeted_keras import _checks
from budgeted_keras.tasks import base


class Video(base.Task):
    """Video classification under a budget (`--task=video`)."""

    name = "video"
    metric_names = ("accuracy",)
    primary_metric = "accuracy"
    datasets = {
        "ucf101": base.DatasetSpec("ucf101", ("train",), "test", 101),
    }
    default_dataset = "ucf101"
    configs = {
        "videoswin_small": base.ModelConfig(
            "videoswin_small",
            "VideoSwin of 2 stages (embedding 16, 1 block each) on 4-frame "
            "32x32 clips (for tests).",
            input_size=(4, 32, 32),
            options=dict(
                backbone=dict(
                    embed_dim=16,
                    depths=[1, 1],
                    num_heads=[1, 2],
                    patch_size=[2, 4, 4],
                    window_size=[2, 4, 4],
                    drop_path_rate=0.0,
                ),
                stride=2,
                resize=(36, 36),
            ),
        ),
        "videoswin_tiny": base.ModelConfig(
            "videoswin_tiny",
            "Video Swin-T (embedding 96, depths 2, 2, 6, 2) on 32-frame "
            "224x224 clips, one frame in 2, cropped from 256x256.",
            input_size=(32, 224, 224),
            options=dict(
                backbone=dict(
                    embed_dim=96,
                    depths=[2, 2, 6, 2],
                    num_heads=[3, 6, 12, 24],
                    patch_size=[2, 4, 4],
                    window_size=[8, 7, 7],
                    drop_path_rate=0.1,
                ),
                stride=2,
                resize=(256, 256),
            ),
            full_budget=(
                "30 epochs at batch 64 (Video Swin-T's Kinetics-400 "
                "recipe); AdamW lr 1e-3, weight decay 0.02, cosine, "
                "2.5-epoch warmup"
            ),
            full_epochs=30,
            recipe=base.Recipe(
                64, 1e-3, 0.02, optimizer="adamw", warmup_fraction=2.5 / 30
            ),
        ),
    }
    default_model = "videoswin_small"
    standard_model = "videoswin_tiny"

    def decoders(self, spec):
        import tensorflow_datasets as tfds

        return {"video": tfds.decode.SkipDecoding()}

    def decode(self, example, spec, training):
        return {
            "frames": example["video"],
            "label": tf.cast(example["label"], "int32"),
        }

    def batches(
        self,
        split,
        batch_size,
        *,
        model,
        training=False,
        shuffle_seed=None,
        augment=False,
    ):
        batch_size = _checks.integer("batch_size", batch_size)
        config = self.model_config(model)
        frames, height, width = config.input_size
        stride, resize = config.options["stride"], config.options["resize"]
        if training:
            split = base.shuffled(split, shuffle_seed)
            # One stateless seed per example, drawn after the shuffle from
            # `shuffle_seed` (new each epoch): the clips and augmentation
            # of a seeded stream repeat exactly although examples are
            # prepared in parallel, which stateful random ops would not do.
            seeds = tf.data.Dataset.random(
                seed=shuffle_seed, rerandomize_each_iteration=True
            ).batch(2, drop_remainder=True)
            split = tf.data.Dataset.zip(split, seeds)

        def prepare(example, seed=None):
            if training:
                clip_seed, crop_seed, flip_seed = tf.unstack(
                    tf.random.experimental.stateless_split(seed, 3)
                )
            else:
                clip_seed = None
            clip = sample_clip(
                example["frames"],
                frames,
                stride,
                random=training,
                seed=clip_seed,
                min_size=resize,
            )
            # Frames already of the `resize` size (UCF101 at 256x256 for
            # the standard configuration) are not resampled.
            same = tf.reduce_all(tf.shape(clip)[1:3] == tf.constant(resize))
            clip = tf.cond(
                same,
                lambda: tf.cast(clip, "float32"),
                lambda: tf.image.resize(clip, resize),
            )
            if training and augment:
                clip = tf.image.stateless_random_crop(
                    clip, (frames, height, width, 3), seed=crop_seed
                )
                flip = tf.random.stateless_uniform((), flip_seed) < 0.5
                clip = tf.cond(flip, lambda: clip[:, :, ::-1], lambda: clip)
            else:
                clip = central_crop(clip, (height, width))
            clip = tf.ensure_shape(clip, (frames, height, width, 3))
            return clip / 255.0, example["label"]

        split = split.map(prepare, num_parallel_calls=base.AUTOTUNE)
        return split.batch(batch_size).prefetch(base.AUTOTUNE)

    def build_model(self, model, splits, *, bn_momentum=0.99, seed=None):
        import keras_cv

        config = self.model_config(model)
        base.set_seed(seed)
        backbone = keras_cv.models.VideoSwinBackbone(
            include_rescaling=False,
            input_shape=(*config.input_size, 3),
            **config.options["backbone"],
        )
        network = keras_cv.models.VideoClassifier(
            backbone=backbone,
            num_classes=splits.num_classes,
            activation=None,
            name=model,
        )
        return base.apply_bn_momentum(network, bn_momentum)

    def compile(self, model, optimizer, **kwargs):
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            **kwargs,
        )


def decode_frame(encoded, min_size=None):
    """Decodes one encoded frame, at reduced scale when that is enough.

    A JPEG frame is decoded at the smallest of the scales 1, 1/2, 1/4 and
    1/8 (libjpeg's DCT scaling, `tf.io.decode_jpeg`'s `ratio`) whose sides
    stay at least `min_size`: several times cheaper than decoding the full
    frame when a clip is then resized well below it, and a smoother
    downscale than resizing the full frame bilinearly. Other formats, and
    all frames when `min_size` is None, are decoded at full size.

    Args:
        encoded: Scalar string tensor, a PNG or JPEG image.
        min_size: Optional `(height, width)` of Python ints.

    Returns:
        Uint8 tensor `(H, W, 3)`.
    """

    def full():
        return tf.io.decode_image(encoded, channels=3, expand_animations=False)

    if min_size is None:
        return full()

    def scaled():
        shape = tf.image.extract_jpeg_shape(encoded)[:2]
        # The scale 1/r keeps ceil(side / r) pixels a side.
        fits = [
            tf.reduce_all((shape + r - 1) // r >= tf.constant(min_size))
            for r in (2, 4, 8)
        ]
        index = tf.reduce_sum(tf.cast(tf.stack(fits), "int32"))
        return tf.switch_case(
            index,
            [
                lambda r=r: tf.io.decode_jpeg(encoded, channels=3, ratio=r)
                for r in (1, 2, 4, 8)
            ],
        )

    return tf.cond(tf.io.is_jpeg(encoded), scaled, full)


def sample_clip(encoded, frames, stride, *, random, seed=None, min_size=None):
    """Decodes `frames` frames, `stride` apart, of encoded video frames.

    Only the frames of the clip are decoded, each by its own op (`frames`
    is a Python int), so that they can be decoded in parallel, at reduced
    scale where `min_size` allows (`decode_frame`).

    Args:
        encoded: String tensor `(T,)` of encoded images (PNG or JPEG), all
            of one size.
        frames: Python int, frames in the clip.
        stride: Python int, step between sampled frames.
        random: Python bool. A uniformly random start (training) or the
            start of the central clip (evaluation).
        seed: Optional int tensor of shape `(2,)`. Seed of the random
            start (stateless, repeatable); None draws it from TensorFlow's
            stateful random ops.
        min_size: Optional `(height, width)`: the smallest frame size the
            caller needs (`decode_frame`); None decodes full frames.

    Returns:
        Uint8 tensor `(frames, H, W, 3)`.
    """
    length = tf.shape(encoded)[0]
    span = (frames - 1) * stride + 1
    room = tf.maximum(length - span, 0)
    if not random:
        start = room // 2
    elif seed is None:
        start = tf.random.uniform((), 0, room + 1, dtype="int32")
    else:
        start = tf.random.stateless_uniform(
            (), seed, 0, room + 1, dtype="int32"
        )
    index = tf.minimum(start + tf.range(frames) * stride, length - 1)
    clip = [decode_frame(encoded[index[i]], min_size) for i in range(frames)]
    return tf.stack(clip)


def central_crop(clip, size):
    """The central `size` crop of every frame of `clip`."""
    height, width = size
    top = (tf.shape(clip)[1] - height) // 2
    left = (tf.shape(clip)[2] - width) // 2
    return clip[:, top : top + height, left : left + width]
