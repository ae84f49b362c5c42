"""Object detection: KerasCV RetinaNet and YOLOV8Detector; COCO box mAP.

Datasets: `coco/2017` (train2017 -> val2017) and `voc` (VOC 2007
trainval -> test). Boxes are kept as pixel `xyxy`. An image holds any
number of boxes, padded with class -1 to `max_boxes` per image (100;
COCO's largest image has fewer); COCO crowd boxes and VOC "difficult"
boxes are not trained on, and in evaluation are regions a detection may
match without counting (COCO's `iscrowd`/ignore rule). Training images go
through KerasCV's `RandomFlip` and `JitteredResize` (random scale, crop,
pad to the input size); evaluation images are resized to fit the input
size and padded, keeping the aspect ratio (IoU, hence AP, is unchanged by
the uniform scale). `evaluate` reports mAP@[.5:.95] (`box_map`), mAP@.5
and mAP@.75 with `metrics.BoxAP`.
"""

import tensorflow as tf

from budgeted_keras import _checks
from budgeted_keras import metrics as metrics_lib
from budgeted_keras.tasks import base

BOX_FORMAT = "xyxy"
MAX_BOXES = 100

_STANDARD_BUDGET = (
    "the '1x' schedule: 90k updates at batch 16 (12.17 epochs of the "
    "118,287 COCO train2017 images); SGD momentum 0.9, lr 0.01, weight "
    "decay 1e-4, step x0.1 at 2/3 and 8/9"
)
_SMALL_BACKBONE = dict(
    stackwise_filters=[8, 16, 32, 64],
    stackwise_blocks=[2, 2, 2, 2],
    stackwise_strides=[1, 2, 2, 2],
)
_RESNET50 = dict(
    stackwise_filters=[64, 128, 256, 512],
    stackwise_blocks=[3, 4, 6, 3],
    stackwise_strides=[1, 2, 2, 2],
    block_type="block",
)


class Detection(base.Task):
    """Object detection under a budget (`--task=detection`)."""

    name = "detection"
    metric_names = ("box_map", "box_map_50", "box_map_75")
    primary_metric = "box_map"
    datasets = {
        "coco/2017": base.DatasetSpec(
            "coco/2017",
            ("train",),
            "validation",
            80,
            options=dict(ignore="is_crowd", crowd=True),
        ),
        "voc": base.DatasetSpec(
            "voc/2007",
            ("train", "validation"),
            "test",
            20,
            options=dict(ignore="is_difficult", crowd=False),
        ),
    }
    default_dataset = "coco/2017"
    configs = {
        "retinanet_small": base.ModelConfig(
            "retinanet_small",
            "RetinaNet on a ResNet of widths 8-64 (for tests), 64x64.",
            input_size=(64, 64),
            options=dict(
                family="retinanet", backbone=_SMALL_BACKBONE, scale=(0.75, 1.3)
            ),
        ),
        "retinanet": base.ModelConfig(
            "retinanet",
            "RetinaNet (FPN P3-P7, focal loss) on ResNet-50, 640x640.",
            input_size=(640, 640),
            options=dict(
                family="retinanet", backbone=_RESNET50, scale=(0.75, 1.3)
            ),
            full_budget=_STANDARD_BUDGET,
            full_epochs=12.17,
            recipe=base.Recipe(16, 0.01, 1e-4),
        ),
        "yolov8_small": base.ModelConfig(
            "yolov8_small",
            "YOLOv8 detector on a CSP backbone of widths 8-64 (for tests), "
            "64x64.",
            input_size=(64, 64),
            options=dict(
                family="yolov8",
                backbone=dict(
                    stackwise_channels=[8, 16, 32, 64],
                    stackwise_depth=[1, 1, 1, 1],
                ),
                fpn_depth=1,
                scale=(0.75, 1.3),
            ),
        ),
        "yolov8_s": base.ModelConfig(
            "yolov8_s",
            "YOLOv8-S (widths 64-512, depths 1, 2, 2, 1), 640x640.",
            input_size=(640, 640),
            options=dict(
                family="yolov8",
                backbone=dict(
                    stackwise_channels=[64, 128, 256, 512],
                    stackwise_depth=[1, 2, 2, 1],
                ),
                fpn_depth=1,
                scale=(0.75, 1.3),
            ),
            full_budget=(
                "500 epochs of COCO train2017 at batch 64 (the Ultralytics "
                "YOLOv8 recipe); SGD momentum 0.937, lr 0.01, weight decay "
                "5e-4, linear decay"
            ),
            full_epochs=500,
            recipe=base.Recipe(64, 0.01, 5e-4),
        ),
    }
    default_model = "retinanet_small"
    standard_model = "retinanet"

    def decode(self, example, spec, training):
        image = tf.cast(example["image"], "float32") / 255.0
        objects = example["objects"]
        flags = objects[spec.options["ignore"]]
        # Real TFDS records hold one entry per object in every field;
        # mocked ones need not, so use the common prefix.
        n = tf.reduce_min(
            tf.stack(
                [
                    tf.shape(objects["bbox"])[0],
                    tf.shape(objects["label"])[0],
                    tf.shape(flags)[0],
                ]
            )
        )
        boxes = to_pixel_xyxy(objects["bbox"][:n], tf.shape(image)[:2])
        classes = tf.cast(objects["label"][:n], "float32")
        flags = tf.cast(flags[:n], "bool")
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        keep, ignore = valid & ~flags, valid & flags
        return {
            "images": image,
            "boxes": tf.boolean_mask(boxes, keep),
            "classes": tf.boolean_mask(classes, keep),
            "ignore_boxes": tf.boolean_mask(boxes, ignore),
            "ignore_classes": tf.boolean_mask(classes, ignore),
            "ignore_crowd": tf.constant(spec.options["crowd"]),
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
        size = tuple(config.input_size)
        if training:
            split = base.shuffled(split, shuffle_seed)
            prepare = self._train_transform(config, augment, shuffle_seed)
        else:

            def prepare(example):
                image, scale = resize_with_pad(example["images"], size)
                labels = {
                    "boxes": example["boxes"] * scale,
                    "classes": example["classes"],
                    "ignore_boxes": example["ignore_boxes"] * scale,
                    "ignore_classes": example["ignore_classes"],
                    "ignore_crowd": example["ignore_crowd"],
                }
                return image, pad_boxes(labels)

        split = split.map(prepare, num_parallel_calls=base.AUTOTUNE)
        return split.batch(batch_size).prefetch(base.AUTOTUNE)

    def _train_transform(self, config, augment, seed):
        size = tuple(config.input_size)
        if augment:
            keras_cv = base.augmentation_layers(seed)
            flip = keras_cv.layers.RandomFlip(
                "horizontal", bounding_box_format=BOX_FORMAT, seed=seed
            )
            jitter = keras_cv.layers.JitteredResize(
                target_size=size,
                scale_factor=tuple(config.options["scale"]),
                bounding_box_format=BOX_FORMAT,
                seed=seed,
            )

            def transform(example):
                out = jitter(
                    flip(
                        {
                            "images": example["images"],
                            "bounding_boxes": {
                                "boxes": example["boxes"],
                                "classes": example["classes"],
                            },
                        }
                    )
                )
                return out["images"], out["bounding_boxes"]

        else:

            def transform(example):
                image, scale = resize_with_pad(example["images"], size)
                return image, {
                    "boxes": example["boxes"] * scale,
                    "classes": example["classes"],
                }

        def prepare(example):
            image, boxes = transform(example)
            return image, pad_boxes(boxes)

        return prepare

    def build_model(self, model, splits, *, bn_momentum=0.99, seed=None):
        import keras_cv

        config = self.model_config(model)
        options = config.options
        base.set_seed(seed)
        input_shape = (*config.input_size, 3)
        if options["family"] == "retinanet":
            network = keras_cv.models.RetinaNet(
                backbone=keras_cv.models.ResNetBackbone(
                    include_rescaling=False,
                    input_shape=input_shape,
                    **options["backbone"],
                ),
                num_classes=splits.num_classes,
                bounding_box_format=BOX_FORMAT,
                # Detectron's evaluation setting: score > 0.05, top 100.
                prediction_decoder=keras_cv.layers.NonMaxSuppression(
                    bounding_box_format=BOX_FORMAT,
                    from_logits=True,
                    iou_threshold=0.5,
                    confidence_threshold=0.05,
                    max_detections=100,
                ),
                name=model,
            )
        else:
            network = keras_cv.models.YOLOV8Detector(
                backbone=keras_cv.models.YOLOV8Backbone(
                    include_rescaling=False,
                    input_shape=input_shape,
                    **options["backbone"],
                ),
                num_classes=splits.num_classes,
                bounding_box_format=BOX_FORMAT,
                fpn_depth=options["fpn_depth"],
                # Ultralytics' validation setting: score > 0.001, IoU 0.7.
                prediction_decoder=keras_cv.layers.NonMaxSuppression(
                    bounding_box_format=BOX_FORMAT,
                    from_logits=False,
                    iou_threshold=0.7,
                    confidence_threshold=0.001,
                    max_detections=100,
                ),
                name=model,
            )
        return base.apply_bn_momentum(network, bn_momentum)

    def serving_signature(self, model):
        # KerasCV's RetinaNet takes its images as {"images": batch}.
        signature = super().serving_signature(model)
        if self.model_config(model).options["family"] == "retinanet":
            return [{"images": signature[0]}]
        return signature

    def compile(self, model, optimizer, **kwargs):
        import keras_cv

        if isinstance(model, keras_cv.models.RetinaNet):
            model.compile(
                optimizer=optimizer,
                classification_loss="focal",
                box_loss="smoothl1",
                **kwargs,
            )
        else:
            model.compile(
                optimizer=optimizer,
                classification_loss="binary_crossentropy",
                box_loss="ciou",
                **kwargs,
            )

    def evaluate(self, model, dataset):
        """Box mAP of `model` on a batched evaluation `dataset`."""
        ap = metrics_lib.BoxAP()

        @tf.function(reduce_retracing=True)
        def predict(images):
            # `predict_on_batch` hands KerasCV's decoders a tuple; decode
            # the raw outputs directly (NMS to at most 100 boxes).
            outputs = model(images, training=False)
            return model.decode_predictions(outputs, images)

        for images, labels in dataset:
            predictions = predict(images)
            crowd = bool(tf.reduce_all(labels["ignore_crowd"]))
            ap.update_batch(labels, predictions, crowd=crowd)
        return ap.result()


def to_pixel_xyxy(bbox, image_size):
    """TFDS normalized `[ymin, xmin, ymax, xmax]` -> pixel `xyxy`."""
    height, width = tf.unstack(tf.cast(image_size, "float32"))
    y0, x0, y1, x1 = tf.unstack(tf.reshape(bbox, (-1, 4)), axis=-1)
    return tf.stack(
        [
            tf.minimum(x0, x1) * width,
            tf.minimum(y0, y1) * height,
            tf.maximum(x0, x1) * width,
            tf.maximum(y0, y1) * height,
        ],
        axis=-1,
    )


def resize_with_pad(image, size):
    """Scales `image` to fit `size`, pads bottom/right with zeros.

    Returns:
        The `(height, width, 3)` image and the scale applied to boxes.
    """
    shape = tf.cast(tf.shape(image)[:2], "float32")
    scale = tf.reduce_min(tf.constant(size, "float32") / shape)
    scaled = tf.cast(tf.round(shape * scale), "int32")
    image = tf.image.resize(image, scaled)
    image = tf.image.pad_to_bounding_box(image, 0, 0, *size)
    return image, scale


def pad_boxes(labels, max_boxes=MAX_BOXES):
    """Drops padding/empty boxes and pads every box field to `max_boxes`.

    Boxes past `max_boxes` are dropped (none in COCO or VOC); padding has
    class -1 and box -1, as KerasCV models expect.
    """
    out = dict(labels)
    for prefix in ("", "ignore_"):
        if prefix + "boxes" not in labels:
            continue
        boxes = tf.reshape(labels[prefix + "boxes"], (-1, 4))
        classes = tf.reshape(labels[prefix + "classes"], (-1,))
        keep = (
            (classes >= 0)
            & (boxes[:, 2] > boxes[:, 0])
            & (boxes[:, 3] > boxes[:, 1])
        )
        boxes = tf.boolean_mask(boxes, keep)[:max_boxes]
        classes = tf.boolean_mask(classes, keep)[:max_boxes]
        pad = max_boxes - tf.shape(classes)[0]
        out[prefix + "boxes"] = tf.ensure_shape(
            tf.pad(boxes, [[0, pad], [0, 0]], constant_values=-1.0),
            (max_boxes, 4),
        )
        out[prefix + "classes"] = tf.ensure_shape(
            tf.pad(classes, [[0, pad]], constant_values=-1.0), (max_boxes,)
        )
    return out
