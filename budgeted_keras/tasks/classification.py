"""Image classification: KerasCV ResNets and small CNNs; top-1 and top-5.

Data comes from `budgeted_keras.data` (scikit-learn digits, or any TFDS
image-classification dataset by name: cifar10, cifar100, imagenet2012).
Datasets of fixed-size images (digits, CIFAR) keep `data.batches`: cached,
with the CIFAR flip and 4-pixel translation as augmentation. Datasets of
variable-size images (ImageNet) are cropped to the model's input size:
KerasCV's `RandomCropAndResize` (8%-100% of the area, aspect ratio 3/4 to
4/3) and a horizontal flip for training, the central 87.5% crop resized
for evaluation.
"""

import keras
import tensorflow as tf

from budgeted_keras import _checks
from budgeted_keras import data as data_lib
from budgeted_keras import metrics as metrics_lib
from budgeted_keras import models as models_lib
from budgeted_keras.tasks import base

_IMAGENET_SETTINGS = base.Recipe(256, 0.1, 1e-4)
_IMAGENET_RECIPE = (
    "SGD momentum 0.9, lr 0.1, batch 256, weight decay 1e-4, step decay "
    "x0.1 at 1/3 and 2/3"
)


class Classification(base.Task):
    """Image classification under a budget (`--task=classification`)."""

    name = "classification"
    metric_names = ("accuracy", "top5_accuracy")
    primary_metric = "accuracy"
    datasets = {
        data_lib.DIGITS: base.DatasetSpec("digits", ("train",), "test", 10),
        "cifar10": base.DatasetSpec("cifar10", ("train",), "test", 10),
        "cifar100": base.DatasetSpec("cifar100", ("train",), "test", 100),
        "imagenet2012": base.DatasetSpec(
            "imagenet2012", ("train",), "validation", 1000
        ),
    }
    default_dataset = data_lib.DIGITS
    configs = {
        "mlp": base.ModelConfig(
            "mlp", "One hidden layer of 128 units (small, for tests)."
        ),
        "cnn": base.ModelConfig(
            "cnn",
            "Three conv + BatchNorm blocks (small, for tests and the BN "
            "study in docs/paper.md).",
        ),
        "cifar_resnet18": base.ModelConfig(
            "cifar_resnet18",
            "CIFAR ResNet-18: 3x3 stem, no max-pool, KerasCV basic blocks.",
            input_size=(32, 32),
            full_budget=(
                "200 epochs of the 45k CIFAR training images at batch 128 "
                "(70,400 updates); SGD momentum 0.9, lr 0.1, weight decay "
                "5e-4"
            ),
            full_epochs=200,
            recipe=base.Recipe(128, 0.1, 5e-4),
        ),
        "resnet18": base.ModelConfig(
            "resnet18",
            "ImageNet ResNet-18 (KerasCV ResNetV2 backbone), 224x224.",
            input_size=(224, 224),
            full_budget=(
                "90 epochs of ImageNet at batch 256 (450,450 updates); "
                + _IMAGENET_RECIPE
            ),
            full_epochs=90,
            recipe=_IMAGENET_SETTINGS,
        ),
        "resnet50": base.ModelConfig(
            "resnet50",
            "ImageNet ResNet-50 (KerasCV ResNetV2 backbone), 224x224.",
            input_size=(224, 224),
            full_budget=(
                "90 epochs of ImageNet at batch 256 (450,450 updates); "
                + _IMAGENET_RECIPE
            ),
            full_epochs=90,
            recipe=_IMAGENET_SETTINGS,
        ),
    }
    default_model = "cnn"
    eval_batch_size = 500
    standard_model = "cifar_resnet18"

    def dataset_spec(self, dataset):
        # Any TFDS image-classification dataset works, not only the listed.
        return self.datasets.get(dataset) or base.DatasetSpec(
            dataset, ("train",), "test", None
        )

    def load(
        self,
        dataset,
        *,
        data_dir=None,
        download=False,
        validation_size=0,
        train_subset=None,
    ):
        return data_lib.load(
            dataset,
            data_dir=data_dir,
            download=download,
            validation_size=validation_size,
            train_subset=train_subset,
        )

    def _image_size(self, model, input_shape):
        size = self.model_config(model).input_size
        if input_shape is not None and None not in tuple(input_shape):
            return tuple(input_shape[:2])
        return size or (224, 224)

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
        if _fixed_size(split):
            if not training:
                return data_lib.batches(split, batch_size)
            steps = data_lib.steps_per_epoch(split, batch_size)
            stream = data_lib.training_stream(
                split, batch_size, seed=shuffle_seed or 0, augment=augment
            )
            return stream.take(steps)
        return self._variable_size_batches(
            split,
            batch_size,
            self._image_size(model, None),
            training=training,
            shuffle_seed=shuffle_seed,
            augment=augment,
        )

    def shared(self, split):
        # Fixed-size images (digits, CIFAR) are decoded once and held in
        # memory; variable-size ones (ImageNet) are far too large for that.
        if not _fixed_size(split):
            return split
        split = split.cache()
        for _ in split:  # Fills the cache: later reads come from memory.
            pass
        return split

    def training_stream(
        self, split, batch_size, *, model, seed, augment=False, start_epoch=0
    ):
        if _fixed_size(split):
            # Cached in memory; a resumed run sees exactly the batches an
            # uninterrupted one does.
            return data_lib.training_stream(
                split,
                batch_size,
                seed=seed,
                augment=augment,
                start_epoch=start_epoch,
            )
        return super().training_stream(
            split,
            batch_size,
            model=model,
            seed=seed,
            augment=augment,
            start_epoch=start_epoch,
        )

    def _variable_size_batches(
        self, split, batch_size, size, *, training, shuffle_seed, augment
    ):
        batch_size = _checks.integer("batch_size", batch_size)
        split = base.shuffled(split, shuffle_seed)
        if training and augment:
            keras_cv = base.augmentation_layers(shuffle_seed)
            crop = keras_cv.layers.RandomCropAndResize(
                target_size=size,
                crop_area_factor=(0.08, 1.0),
                aspect_ratio_factor=(3 / 4, 4 / 3),
                seed=shuffle_seed,
            )
            flip = keras_cv.layers.RandomFlip("horizontal", seed=shuffle_seed)

            def prepare(image, label):
                return flip(crop(image)), label

        else:

            def prepare(image, label):
                return central_crop(image, size), label

        split = split.map(prepare, num_parallel_calls=base.AUTOTUNE)
        return split.batch(batch_size).prefetch(base.AUTOTUNE)

    def build_model(
        self, model, splits, *, bn_momentum=0.99, seed=None, width=None
    ):
        """Builds `model`; `width` is `budgeted_keras.models.build`'s."""
        self.model_config(model)
        shape = tuple(splits.input_shape)
        input_shape = (*self._image_size(model, shape), shape[-1])
        return models_lib.build(
            model,
            input_shape,
            splits.num_classes,
            width=width,
            bn_momentum=bn_momentum,
            seed=seed,
        )

    def compile(self, model, optimizer, **kwargs):
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=[
                "accuracy",
                metrics_lib.SparseTopKAccuracy(k=5, name="top5_accuracy"),
            ],
            **kwargs,
        )

    def serving_signature(self, model):
        # The model's own input shape: that of the dataset's fixed-size
        # images, or the configuration's input size.
        return None


def _fixed_size(split):
    return split.element_spec[0].shape.is_fully_defined()


def central_crop(image, size, fraction=0.875):
    """Resizes the central `fraction` of `image` to `size` (evaluation)."""
    shape = tf.cast(tf.shape(image)[:2], "float32")
    side = tf.reduce_min(shape) * fraction
    offset = tf.cast((shape - side) / 2, "int32")
    side = tf.cast(side, "int32")
    image = tf.image.crop_to_bounding_box(
        image, offset[0], offset[1], side, side
    )
    return tf.image.resize(image, size)
