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


def _cifar_resnet18(inputs, num_classes, width, bn_momentum):
    """ResNet-18 for 32x32 images: a 3x3 stem, no max-pool.

    The stages are KerasCV's ResNet (v1) basic-block stacks, as in the
    ResNet-18 of the CIFAR literature (4 stages of 2 basic blocks, widths
    w, 2w, 4w, 8w with w = 64, strides 1, 2, 2, 2).
    """
    from keras_cv.src.models.backbones.resnet_v1 import resnet_v1_backbone

    x = keras.layers.Conv2D(
        width, 3, padding="same", use_bias=False, name="stem_conv"
    )(inputs)
    x = keras.layers.BatchNormalization(
        momentum=bn_momentum, epsilon=1.001e-5, name="stem_bn"
    )(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    for i, (blocks, stride) in enumerate(zip((2, 2, 2, 2), (1, 2, 2, 2))):
        x = resnet_v1_backbone.apply_stack(
            x,
            filters=width * 2**i,
            blocks=blocks,
            stride=stride,
            block_type="basic_block",
            first_shortcut=i > 0,
            name=f"stack{i}",
        )
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
    "cifar_resnet18": (_cifar_resnet18, 64),
}


def set_bn_momentum(model, momentum):
    """Sets the moving-statistics momentum of every BatchNormalization.

    Walks nested models and layers, so that backbones built by KerasCV with
    Keras' default (0.99) follow the run's setting.

    Args:
        model: A `keras.Model` or layer.
        momentum: Python float in [0, 1).
    """
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


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
            "resnet50" (KerasCV ResNetV2 backbones, ImageNet layout),
            "cifar_resnet18" (KerasCV ResNet basic blocks behind a 3x3
            stem without max-pool, for 32x32 images).
        input_shape: Tuple of Python ints, `(height, width, channels)`.
        num_classes: Python int >= 2.
        width: Optional Python int >= 1. Hidden units ("mlp") or first-block
            filters ("cnn", "cifar_resnet18", default 64); ignored by the
            ImageNet ResNets.
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
    model = keras.Model(inputs, outputs, name=name)
    set_bn_momentum(model, bn_momentum)
    return model
