"""Budgeted convergence: the full-batch gradient norm through a budget.

Li et al. (ICLR 2020) observe that under a good budget-aware schedule the
norm of the gradient of the training loss, measured on the whole training
set, vanishes at the end of every budget, while under a constant (or an
undecayed, cut-short) schedule it stays large. `gradient_norm` measures that
norm; `GradientNormMonitor` measures it at set points of progress through a
budget and records the values with the run.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from budgeted_keras import _checks
from budgeted_keras import budget as budget_lib


def _unpack(batch):
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise ValueError(
            "Argument `dataset` must yield `(x, y)` or `(x, y, sample_weight)`"
            " batches to compute a loss. Received: an element of type "
            f"{type(batch).__name__}"
        )
    return batch[0], batch[1], batch[2] if len(batch) > 2 else None


def gradient_norm(model, dataset, *, training=True):
    """The L2 norm of the gradient of the mean training loss over `dataset`.

    Computes `||grad L||_2` with

        L = (1 / N) * sum_b n_b * loss_b

    the average over the `N` examples of `dataset` of the compiled loss
    (`model.compute_loss`, regularization losses of layers included), from
    per-batch gradients weighted by the batch sizes `n_b`, with respect to
    `model.trainable_variables`. Decoupled weight decay (the optimizers'
    `weight_decay`) is not part of the loss and not of the gradient.

    With `training=True` (the default) the model runs as during the updates:
    BatchNormalization normalizes with each batch's statistics, so use
    batches of the training batch size. Every non-trainable variable
    (BatchNormalization moving statistics, random-seed states) is restored
    afterwards, so measuring does not change the model or the rest of the
    run. Use unaugmented, unshuffled data so that repeated measurements see
    the same examples.

    >>> model.compile(optimizer="sgd", loss="mse")          # doctest: +SKIP
    >>> gradient_norm(model, train_without_augmentation)    # doctest: +SKIP

    Args:
        model: A compiled `keras.Model` (TensorFlow backend).
        dataset: A batched `tf.data.Dataset` (or iterable) of `(x, y)` or
            `(x, y, sample_weight)` batches.
        training: Python bool. Mode of the forward pass.

    Returns:
        Python float: the gradient norm.

    Raises:
        ValueError: if `dataset` yields no batch or elements without labels.
    """
    return _full_norm(model, dataset, _gradient_function(model, training))


def _gradient_function(model, training):
    """A traced function of a batch returning the loss gradients."""
    variables = model.trainable_variables

    @tf.function
    def batch_gradients(x, y, sample_weight):
        with tf.GradientTape() as tape:
            y_pred = model(x, training=training)
            loss = model.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                training=training,
            )
        gradients = tape.gradient(loss, variables)
        return [
            tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
            for g, v in zip(gradients, variables)
        ]

    return batch_gradients


def _full_norm(model, dataset, batch_gradients):
    saved = [v.numpy() for v in model.non_trainable_variables]
    total = None
    examples = 0
    try:
        for batch in dataset:
            x, y, sample_weight = _unpack(batch)
            size = int(tf.shape(tf.nest.flatten(x)[0])[0])
            gradients = batch_gradients(x, y, sample_weight)
            weighted = [g.numpy().astype("float64") * size for g in gradients]
            if total is None:
                total = weighted
            else:
                total = [t + w for t, w in zip(total, weighted)]
            examples += size
    finally:
        for variable, value in zip(model.non_trainable_variables, saved):
            variable.assign(value)
    if not examples:
        raise ValueError(
            "Argument `dataset` must yield at least one batch to measure a "
            "gradient norm. Received: an empty dataset"
        )
    return math.sqrt(sum(float(np.sum((t / examples) ** 2)) for t in total))


class GradientNormMonitor(keras.callbacks.Callback):
    """Measures the full-data gradient norm at points of progress in a budget.

    For each fraction `p` in `progress_points` it calls `gradient_norm` on
    `dataset` once `round(p * T)` updates are applied (`T = budget.steps`,
    halves rounded up; `p = 0` is measured before the first update), and
    keeps the values in `measurements`, a list of dicts `{"progress",
    "updates", "gradient_norm"}` with `progress = updates / T` exact. A point
    is measured at the first batch end that reaches it; with
    `steps_per_execution` > 1 that can be a few updates later, and points
    reached together are measured once. Points passed before this call to
    `fit` (a run resumed from a backup) and points never reached are not
    measured. It writes `gradient_norm` (the latest value) into the logs of
    the batch where it measured and of every epoch end after the first
    measurement, so that `History` records it.

    Measuring costs one forward and backward pass over `dataset` per point,
    and does not change the weights, the moving statistics or the random
    state of the run (see `gradient_norm`).

    Args:
        dataset: A batched `tf.data.Dataset` of `(x, y)`: the training set, or
            a large fixed sample of it, unaugmented and unshuffled, batched
            as in training.
        budget: A `budgeted_keras.Budget` or Python int >= 1: the run's
            budget `T`.
        progress_points: Sequence of Python floats in [0, 1]. Default: 0,
            0.1, 0.25, 0.5, 0.75, 1.
        verbose: Python int. 1 prints each measurement.

    Raises:
        ValueError: if a progress point is outside [0, 1] or none is given.
    """

    def __init__(
        self,
        dataset,
        budget,
        progress_points=(0.0, 0.1, 0.25, 0.5, 0.75, 1.0),
        verbose=0,
    ):
        super().__init__()
        self.dataset = dataset
        self.budget = budget_lib.as_budget(budget)
        points = []
        for point in progress_points:
            point = _checks.number("progress_points", point, minimum=0)
            if point > 1:
                raise ValueError(
                    "Argument `progress_points` must hold fractions in [0, 1]."
                    f" Received: progress_points={list(progress_points)!r}"
                )
            points.append(point)
        if not points:
            raise ValueError(
                "Argument `progress_points` must not be empty. "
                f"Received: progress_points={list(progress_points)!r}"
            )
        self.progress_points = tuple(points)
        self._targets = sorted(
            {int(math.floor(p * self.budget.steps + 0.5)) for p in points}
        )
        self.measurements = []
        self.verbose = verbose

    def _updates(self):
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def _measure_due(self, logs):
        updates = self._updates()
        if not self._pending or self._pending[0] > updates:
            return
        # With `steps_per_execution` > 1 a point can be passed between two
        # batch ends; it is then measured (once) at the update reached.
        while self._pending and self._pending[0] <= updates:
            self._pending.pop(0)
        norm = _full_norm(self.model, self.dataset, self._function)
        self.measurements.append(
            {
                "progress": updates / self.budget.steps,
                "updates": updates,
                "gradient_norm": norm,
            }
        )
        if logs is not None:
            logs["gradient_norm"] = norm
        if self.verbose:
            print(
                f"\nGradientNormMonitor: update {updates} (progress "
                f"{updates / self.budget.steps:.3f}): gradient norm {norm:.6g}"
            )

    def on_train_begin(self, logs=None):
        self.measurements = []
        self._function = _gradient_function(self.model, training=True)
        # Points passed before this call to `fit` (a run resumed from a
        # backup) are not measured.
        done = self._updates()
        self._pending = [t for t in self._targets if t >= done]
        self._measure_due(logs)

    def on_train_batch_end(self, batch, logs=None):
        self._measure_due(logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.measurements and logs is not None:
            logs["gradient_norm"] = self.measurements[-1]["gradient_norm"]

    def on_train_end(self, logs=None):
        self._measure_due(logs)
