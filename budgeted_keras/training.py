"""`fit`: `model.fit` for exactly the updates a budget allows."""

import math

import keras
import tensorflow as tf

from budgeted_keras import _checks
from budgeted_keras import budget as budget_lib
from budgeted_keras import callbacks as callbacks_lib


def _batches_per_epoch(x, fit_kwargs):
    """Batches `model.fit` draws from `x` per epoch, as Keras splits them."""
    if isinstance(x, (tf.data.Dataset, keras.utils.PyDataset)):
        return budget_lib.Budget(epochs=1, dataset=x).batches
    arrays = keras.tree.flatten(x)
    if not arrays or not hasattr(arrays[0], "shape"):
        raise ValueError(
            "Argument `steps_per_epoch` is required when `x` is not a "
            "dataset or arrays. Received: x of type "
            f"{type(x).__name__}"
        )
    examples = arrays[0].shape[0]
    split = fit_kwargs.get("validation_split") or 0.0
    if split:
        # Keras trains on the first floor(n * (1 - split)) examples.
        examples = math.floor(examples * (1.0 - split))
    return budget_lib.Budget(
        examples=examples, batch_size=fit_kwargs.get("batch_size") or 32
    ).batches


def fit(
    model,
    x,
    budget,
    *,
    steps_per_epoch=None,
    epochs=None,
    callbacks=None,
    **kwargs,
):
    """Trains `model` on `x` for exactly `budget.steps` applied updates.

    Runs `model.fit` for `budget.epochs_for(steps_per_epoch)` epochs (or
    `epochs`) with a `BudgetCallback` first in the callback list (so
    `learning_rate` and `budget_used` reach every later callback's `logs`),
    after `check_callbacks`. The last epoch stops in the middle when the budget
    ends there.

    Args:
        model: A compiled `keras.Model`.
        x: Training data as `model.fit` takes it: a batched `tf.data.Dataset`,
            a `keras.utils.PyDataset`, or arrays (then pass `batch_size`).
        budget: A `budgeted_keras.Budget` or Python int >= 1 of updates.
        steps_per_epoch: Optional Python int >= 1. Batches per epoch; by
            default the length of `x` (cardinality of a dataset, or
            `ceil(n / batch_size)` for arrays of `n` training examples, after
            `validation_split`; Keras' default batch size is 32).
        epochs: Optional Python int. Total epochs to give `model.fit`, at
            least `budget.epochs_for(steps_per_epoch)` (the default, plus
            10% and one epoch under a `LossScaleOptimizer`, whose skipped
            updates are not counted). Training stops at the budget either
            way.
        callbacks: Optional list of further callbacks.
        **kwargs: Passed on to `model.fit` (`initial_epoch`,
            `validation_data`, `verbose`, ...).

    Returns:
        The `History` of `model.fit`.

    Raises:
        ValueError: if `epochs` is too few for the budget, if the length of
            `x` is unknown and `steps_per_epoch` is not given, or as
            `check_callbacks` and `BudgetCallback` do.
    """
    budget = budget_lib.as_budget(budget)
    callbacks = list(callbacks or [])
    callbacks_lib.check_callbacks(callbacks, model.optimizer)
    if steps_per_epoch is None:
        steps_per_epoch = _batches_per_epoch(x, kwargs)
    else:
        kwargs["steps_per_epoch"] = steps_per_epoch
    needed = budget.epochs_for(steps_per_epoch)
    if epochs is None:
        epochs = needed
        if isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer):
            # Updates skipped on non-finite gradients are not counted: leave
            # room for them (about one per 2,000 updates, a few at first).
            epochs += 1 + needed // 10
    elif _checks.integer("epochs", epochs) < needed:
        raise ValueError(
            f"Argument `epochs` must be >= {needed} to hold the budget of "
            f"{budget.batches} batches at {steps_per_epoch} per epoch. "
            f"Received: epochs={epochs!r}"
        )
    if isinstance(x, tf.data.Dataset):
        # A dataset carries its own shuffling; Keras warns on the default.
        kwargs.setdefault("shuffle", False)
    return model.fit(
        x,
        epochs=epochs,
        callbacks=[callbacks_lib.BudgetCallback(budget)] + callbacks,
        **kwargs,
    )
