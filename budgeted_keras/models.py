"""Image classifiers by name, built from explicit configuration.

All models output logits. KerasCV backbones are built from their
configuration (no presets, which would fetch files from the network).
"""

import keras

from budgeted_keras import _checks

# ResNet-18: four stages of two basic blocks (He et al., 2016).
RESNET18 = dict(
    stackwise_filters=[64, 128, 256, 512],
    stackwise_blocks=[2, 2, 2, 2],
    stackwise_strides=[1, 2, 2, 2],
    block_type="basic_block",
)
RESNET50 = dict(
    stackwise_filters=[64, 128, 256, 512],
    stackwise_blocks=[3, 4, 6, 3],
    stackwise_strides=[1, 2, 2, 2],
    block_type="block",
)


def _mlp(inputs, num_classes, width, bn_momentum):
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Dense(width, activation="relu")(x)
    return keras.layers.Dense(num_classes)(x)


def _cnn(inputs, num_classes, width, bn_momentum):
    """Three conv + BatchNorm + ReLU blocks, widths w, 2w, 4w."""
    x = inputs
    for i, filters in enumerate((width, 2 * width, 4 * width)):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=bn_momentum)(x)
        x = keras.layers.ReLU()(x)
        if i < 2 and x.shape[1] >= 4:
            x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.layers.Dense(num_classes)(x)


def _keras_cv_resnet(config):
    def build(inputs, num_classes, width, bn_momentum):
        import keras_cv

        backbone = keras_cv.models.ResNetV2Backbone(
            input_shape=tuple(inputs.shape[1:]),
            include_rescaling=False,
            **config,
        )
        if bn_momentum != 0.99:
            for layer in backbone.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.momentum = bn_momentum
        x = backbone(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.layers.Dense(num_classes)(x)

    return build


_BUILDERS = {
    "mlp": (_mlp, 128),
    "cnn": (_cnn, 32),
    "resnet18": (_keras_cv_resnet(RESNET18), None),
    "resnet50": (_keras_cv_resnet(RESNET50), None),
}


def names():
    """The model names `build` accepts."""
    return list(_BUILDERS)


def build(
    name, input_shape, num_classes, *, width=None, bn_momentum=0.99, seed=None
):
    """Builds an uncompiled classifier that outputs logits.

    Args:
        name: Python str, one of `names()`: "mlp" (one hidden layer), "cnn"
            (three conv/BatchNorm blocks, for small images), "resnet18" and
            "resnet50" (KerasCV ResNetV2 backbones, ImageNet layout).
        input_shape: Tuple of Python ints, `(height, width, channels)`.
        num_classes: Python int >= 2.
        width: Optional Python int >= 1. Hidden units ("mlp") or first-block
            filters ("cnn"); ignored by the ResNets.
        bn_momentum: Python float in [0, 1). Momentum of the moving
            statistics of every BatchNormalization layer.
        seed: Optional Python int. Seeds the weight initialization.

    Raises:
        ValueError: for an unknown `name` or an invalid size.
    """
    if name not in _BUILDERS:
        raise ValueError(
            f"Argument `model` must be one of {names()}. Received: "
            f"model={name!r}"
        )
    num_classes = _checks.integer("num_classes", num_classes, minimum=2)
    bn_momentum = _checks.number("bn_momentum", bn_momentum, minimum=0)
    if bn_momentum >= 1:
        raise ValueError(
            f"Argument `bn_momentum` must be < 1. Received: "
            f"bn_momentum={bn_momentum!r}"
        )
    builder, default_width = _BUILDERS[name]
    width = default_width if width is None else _checks.integer("width", width)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=tuple(input_shape))
    outputs = builder(inputs, num_classes, width, bn_momentum)
    return keras.Model(inputs, outputs, name=name)
