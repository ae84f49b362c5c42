"""Re-estimating BatchNormalization statistics at the end of a budget.

Keras' `BatchNormalization` keeps moving averages of the batch mean and
variance with momentum 0.99 by default: after `n` updates the initial values
(mean 0, variance 1) still weigh `0.99 ** n` (0.56 after 58 updates, 0.05
after 300). Under a small budget the moving statistics are therefore far from
the data, and a model that trained well evaluates badly. PyTorch's momentum
of 0.1 (0.9 in Keras' convention) hides the problem for a little longer.

`recalibrate` replaces the moving statistics by the exact average of the
statistics of a number of training batches, as `torch.optim.swa_utils.
update_bn` does, whatever the layers' momentum; `BatchNormRecalibration`
does it when training ends.
"""

import keras
import numpy as np
import tensorflow as tf

from budgeted_keras import _checks


def batch_norm_layers(model):
    """The trainable `BatchNormalization` layers of `model`, nested included.

    Layers with `trainable=False` (frozen, e.g. when fine-tuning) are left
    out: Keras runs them in inference mode even while training, so their
    moving statistics are never learned from the data and are kept as they
    are.
    """
    # `_flatten_layers` is the walk Keras itself uses for `Layer.layers`;
    # it reaches layers nested in sub-models and in custom layers alike.
    return [
        layer
        for layer in model._flatten_layers(include_self=True, recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
        and layer.trainable
    ]


def _inputs(batch):
    """The model inputs of a dataset element: `x` of `(x, y[, w])` or `x`."""
    if isinstance(batch, (tuple, list)):
        return batch[0]
    return batch


def recalibrate(model, dataset, num_batches):
    """Sets BatchNormalization moving statistics to their batch averages.

    Runs the model in training mode (each BatchNormalization layer normalizes
    with the statistics of the batch, as during the updates) on the first
    `num_batches` batches of `dataset`, and sets every trainable
    BatchNormalization layer's statistics to

        moving_mean     = (1 / K) * sum_k mean_k
        moving_variance = (1 / K) * sum_k var_k

    where `K` is the number of batches used and `mean_k`, `var_k` are the
    per-channel mean and variance of the layer's input on batch `k` (the
    biased variance that Keras normalizes with during training; PyTorch
    stores the unbiased one, larger by `m / (m - 1)` for `m` values per
    channel, a negligible difference for image batches). Every batch weighs
    the same, a smaller last batch included, as in PyTorch's `update_bn`.
    The result does not depend on the layers' momentum or on their previous
    moving statistics; the momentum is left unchanged. Weights are not
    updated. Layers with `trainable=False` are not changed (see
    `batch_norm_layers`). With batch renormalization (`renorm=True`) the
    renormalization statistics are kept and `moving_stddev` is set to match.

    Use the training pipeline (with its augmentation) as `dataset`, in
    batches of the training batch size, so that the statistics are those the
    layers saw while training. Layers such as `Dropout` also run in training
    mode, as in PyTorch.

    >>> model.fit(train, epochs=1)                          # doctest: +SKIP
    >>> recalibrate(model, train, num_batches=100)          # doctest: +SKIP

    Args:
        model: A built `keras.Model` (TensorFlow backend).
        dataset: A batched `tf.data.Dataset` (or any iterable of batches) of
            `x`, `(x, y)` or `(x, y, sample_weight)` elements.
        num_batches: Python int >= 1. Batches to average; fewer are used when
            `dataset` is shorter.

    Returns:
        Python int: the number of batches averaged; 0 when the model has no
        trainable BatchNormalization layer (then `dataset` is not read).

    Raises:
        ValueError: if `num_batches` is not an integer >= 1, or if `dataset`
            yields no batch while the model has BatchNormalization layers.
    """
    num_batches = _checks.integer("num_batches", num_batches)
    layers = batch_norm_layers(model)
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    renorm = [
        (layer.renorm_mean, layer.renorm_stddev)
        for layer in layers
        if getattr(layer, "renorm", False)
    ]
    renorm_values = [(m.numpy(), s.numpy()) for m, s in renorm]
    sums = [None] * len(layers)
    count = 0
    try:
        # With momentum 0 a training-mode call leaves exactly the batch
        # statistics in the moving variables; a fresh `tf.function` is traced
        # with that momentum (the model's own train function keeps its own).
        for layer in layers:
            layer.momentum = 0.0

        @tf.function
        def batch_statistics(x):
            model(x, training=True)
            return [
                (tf.identity(bn.moving_mean), tf.identity(bn.moving_variance))
                for bn in layers
            ]

        for batch in dataset:
            if count >= num_batches:
                break
            for (mean, stddev), (m0, s0) in zip(renorm, renorm_values):
                mean.assign(m0)
                stddev.assign(s0)
            stats = batch_statistics(_inputs(batch))
            for i, (mean, variance) in enumerate(stats):
                mean = mean.numpy().astype("float64")
                variance = variance.numpy().astype("float64")
                if sums[i] is None:
                    sums[i] = [mean, variance]
                else:
                    sums[i][0] += mean
                    sums[i][1] += variance
            count += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        for (mean, stddev), (m0, s0) in zip(renorm, renorm_values):
            mean.assign(m0)
            stddev.assign(s0)
    if count == 0:
        raise ValueError(
            "Argument `dataset` must yield at least one batch to recalibrate "
            "BatchNormalization statistics. Received: an empty dataset"
        )
    for layer, (mean_sum, variance_sum) in zip(layers, sums):
        mean = mean_sum / count
        variance = variance_sum / count
        layer.moving_mean.assign(mean.astype(layer.moving_mean.dtype))
        layer.moving_variance.assign(
            variance.astype(layer.moving_variance.dtype)
        )
        if getattr(layer, "renorm", False):
            layer.moving_stddev.assign(
                np.sqrt(variance + layer.epsilon).astype(
                    layer.moving_stddev.dtype
                )
            )
    return count


class BatchNormRecalibration(keras.callbacks.Callback):
    """Calls `recalibrate` when training ends, before any evaluation after it.

    The moving statistics that `model.evaluate`, `predict` and saved models
    use after `fit` are then the average of `num_batches` training batches'
    statistics, whatever the budget and the layers' momentum. Validation
    during `fit` (at each epoch end) still uses the moving statistics of the
    moment. Writes `bn_recalibration_batches` (the batches averaged) into the
    logs of `on_train_end`.

    Args:
        dataset: Batched training data, as `recalibrate` takes it; normally
            the dataset passed to `fit`.
        num_batches: Python int >= 1. Batches to average.
        verbose: Python int. 1 prints what was done.
    """

    def __init__(self, dataset, num_batches, verbose=0):
        super().__init__()
        self.dataset = dataset
        self.num_batches = _checks.integer("num_batches", num_batches)
        self.verbose = verbose
        self.batches_used = None

    def on_train_end(self, logs=None):
        self.batches_used = recalibrate(
            self.model, self.dataset, self.num_batches
        )
        if logs is not None:
            logs["bn_recalibration_batches"] = self.batches_used
        if self.verbose:
            print(
                "BatchNormRecalibration: moving statistics set to the average "
                f"of {self.batches_used} training batch(es)."
            )
