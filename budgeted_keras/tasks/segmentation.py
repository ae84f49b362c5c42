"""Semantic segmentation: KerasCV DeepLabV3Plus on Cityscapes; mean IoU.

Cityscapes (TFDS `cityscapes/semantic_segmentation`, manual download)
labels pixels with 34 label ids; training and evaluation use the 19
official train ids, every other id becoming the ignore label 255, which
the loss and the mean IoU leave out. Training crops are drawn as KerasCV's
`JitteredResize` draws them (random scale, random crop, padding labelled
255) by `scale_and_crop`, which resamples only the crop, then flipped at
random by KerasCV's `RandomFlip`. Evaluation resizes to the configured
size (for the standard configuration the native 1024x2048, i.e. no
resizing).
"""

import keras
import tensorflow as tf

from budgeted_keras import _checks
from budgeted_keras import metrics as metrics_lib
from budgeted_keras.tasks import base

IGNORE_LABEL = metrics_lib.IGNORE_LABEL

# Cityscapes label id -> train id (cityscapesScripts' labels.py); every
# label id not listed, and every value past the table, is ignored (255).
CITYSCAPES_TRAIN_IDS = {
    7: 0,  # road
    8: 1,  # sidewalk
    11: 2,  # building
    12: 3,  # wall
    13: 4,  # fence
    17: 5,  # pole
    19: 6,  # traffic light
    20: 7,  # traffic sign
    21: 8,  # vegetation
    22: 9,  # terrain
    23: 10,  # sky
    24: 11,  # person
    25: 12,  # rider
    26: 13,  # car
    27: 14,  # truck
    28: 15,  # bus
    31: 16,  # train
    32: 17,  # motorcycle
    33: 18,  # bicycle
}

_RESNET50_V2 = dict(
    stackwise_filters=[64, 128, 256, 512],
    stackwise_blocks=[3, 4, 6, 3],
    stackwise_strides=[1, 2, 2, 2],
    block_type="block",
)


def label_table(mapping):
    """A 256-entry uint8 lookup table: label id -> train id, else 255."""
    table = [IGNORE_LABEL] * 256
    for label_id, train_id in mapping.items():
        table[label_id] = train_id
    return tf.constant(table, "uint8")


class Segmentation(base.Task):
    """Semantic segmentation under a budget (`--task=segmentation`)."""

    name = "segmentation"
    metric_names = ("mean_iou",)
    primary_metric = "mean_iou"
    datasets = {
        "cityscapes": base.DatasetSpec(
            "cityscapes/semantic_segmentation",
            ("train",),
            "validation",
            19,
            options=dict(
                image="image_left",
                label="segmentation_label",
                train_ids=CITYSCAPES_TRAIN_IDS,
            ),
        ),
    }
    default_dataset = "cityscapes"
    configs = {
        "deeplabv3plus_small": base.ModelConfig(
            "deeplabv3plus_small",
            "DeepLabV3+ on a 4-stage ResNetV2 of widths 8-64 (for tests); "
            "64x64 crops, evaluated at 64x128.",
            input_size=(64, 64),
            options=dict(
                backbone=dict(
                    stackwise_filters=[8, 16, 32, 64],
                    stackwise_blocks=[2, 2, 2, 2],
                    stackwise_strides=[1, 2, 2, 2],
                ),
                aspp_channels=16,
                projection_filters=8,
                eval_size=(64, 128),
                scale=(0.5, 2.0),
            ),
        ),
        "deeplabv3plus": base.ModelConfig(
            "deeplabv3plus",
            "DeepLabV3+ (ASPP rates 6, 12, 18; 256 channels) on ResNet-50 "
            "V2; 512x1024 crops at 0.5-2.0x of full resolution, evaluated "
            "at 1024x2048.",
            input_size=(512, 1024),
            options=dict(
                backbone=_RESNET50_V2,
                aspp_channels=256,
                projection_filters=48,
                eval_size=(1024, 2048),
                # JitteredResize first fits the image into the crop size
                # (0.5x for Cityscapes), so 1-4 means 0.5-2.0x full size.
                scale=(1.0, 4.0),
            ),
            full_budget=(
                "80k updates at batch 8 (215 epochs of the 2,975 training "
                "images); SGD momentum 0.9, lr 0.01, weight decay 5e-4, "
                "poly 0.9"
            ),
            full_epochs=215,
            recipe=base.Recipe(8, 0.01, 5e-4),
        ),
    }
    default_model = "deeplabv3plus_small"
    standard_model = "deeplabv3plus"

    def decode(self, example, spec, training):
        # Images stay uint8 until cropped: a float copy of a full frame
        # costs more than the crop.
        image = example[spec.options["image"]]
        label = tf.gather(
            label_table(spec.options["train_ids"]),
            tf.cast(example[spec.options["label"]], "int32"),
        )
        return {"images": image, "segmentation_masks": label}

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
        if training:
            prepare = self._train_transform(config, augment, shuffle_seed)
            split = base.shuffled(split, shuffle_seed)
        else:
            size = config.options["eval_size"]

            def prepare(example):
                return resize(example, size)

        def finish(example):
            example = prepare(example)
            return (
                tf.cast(example["images"], "float32") / 255.0,
                tf.cast(example["segmentation_masks"], "int32"),
            )

        split = split.map(finish, num_parallel_calls=base.AUTOTUNE)
        return split.batch(batch_size).prefetch(base.AUTOTUNE)

    def _train_transform(self, config, augment, seed):
        size = tuple(config.input_size)
        if not augment:
            return lambda example: resize(example, size)
        keras_cv = base.augmentation_layers(seed)
        flip = keras_cv.layers.RandomFlip("horizontal", seed=seed)
        scale = tuple(config.options["scale"])

        def transform(example):
            return flip(scale_and_crop(example, size, scale))

        return transform

    def build_model(self, model, splits, *, bn_momentum=0.99, seed=None):
        import keras_cv

        options = self.model_config(model).options
        base.set_seed(seed)
        backbone = keras_cv.models.ResNetV2Backbone(
            include_rescaling=False,
            input_shape=(None, None, 3),
            **options["backbone"],
        )
        network = keras_cv.models.DeepLabV3Plus(
            backbone=backbone,
            num_classes=splits.num_classes,
            projection_filters=options["projection_filters"],
            spatial_pyramid_pooling=keras_cv.layers.SpatialPyramidPooling(
                dilation_rates=[6, 12, 18],
                num_channels=options["aspp_channels"],
            ),
            name=model,
        )
        return base.apply_bn_momentum(network, bn_momentum)

    def serving_signature(self, model):
        # Evaluation-size frames: DeepLabV3+ cannot be traced for images of
        # unknown size.
        height, width = self.model_config(model).options["eval_size"]
        return [tf.TensorSpec((None, height, width, 3), "float32")]

    def compile(self, model, optimizer, **kwargs):
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(
                ignore_class=IGNORE_LABEL
            ),
            metrics=[metrics_lib.mean_iou(model.num_classes)],
            **kwargs,
        )


def resize(example, size):
    """Resizes image (bilinear) and label map (nearest) to `size`."""
    image = tf.image.resize(example["images"], size)
    masks = tf.image.resize(
        example["segmentation_masks"], size, method="nearest"
    )
    return {"images": image, "segmentation_masks": masks}


def scale_and_crop(example, size, scale):
    """Random scale, then a random `size` crop, padded with 255 labels.

    Samples what KerasCV's `JitteredResize` does (fit the image into
    `size`, scale it by a factor drawn from `scale`, crop `size` at a
    random offset, pad bottom/right), but resamples only the cropped
    window (`tf.image.crop_and_resize`) instead of the whole scaled frame,
    which for Cityscapes at 2x would be 2048x4096.

    Args:
        example: Dict of `"images"` `(H, W, 3)` and `"segmentation_masks"`
            `(H, W, 1)`.
        size: Tuple `(height, width)` of the crop.
        scale: Tuple `(low, high)` of the scale factor after fitting.

    Returns:
        The dict with float32 images and label maps of shape `size`.
    """
    shape = tf.cast(tf.shape(example["images"])[:2], "float32")
    target = tf.constant(size, "float32")
    factor = tf.reduce_min(target / shape) * tf.random.uniform((), *scale)
    scaled = shape * factor
    room = tf.maximum(scaled - target, 0.0)
    offset = tf.floor(tf.random.uniform((2,)) * (room + 1.0))
    box = tf.concat([offset / scaled, (offset + target) / scaled], 0)[None]

    def window(values, method, fill):
        return tf.image.crop_and_resize(
            values[None],
            box,
            [0],
            size,
            method=method,
            extrapolation_value=fill,
        )[0]

    return {
        "images": window(example["images"], "bilinear", 0.0),
        "segmentation_masks": window(
            example["segmentation_masks"], "nearest", float(IGNORE_LABEL)
        ),
    }
