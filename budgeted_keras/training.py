"""`fit`: `model.fit` for exactly the updates a budget allows."""

import math

import keras
import tensorflow as tf

from budgeted_keras import _checks
from budgeted_keras import budget as budget_lib
from budgeted_keras import callbacks as callbacks_lib


def _batches_per_epoch(x, fit_kwargs, steps_per_epoch=None):
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
    batch_size = fit_kwargs.get("batch_size")
    if not batch_size:
        # Keras' default, or with `steps_per_epoch` the size that splits the
        # examples into that many batches (fewer when it does not divide).
        batch_size = (
            math.ceil(examples / steps_per_epoch) if steps_per_epoch else 32
        )
    return budget_lib.Budget(examples=examples, batch_size=batch_size).batches


def _check_steps_per_epoch(x, fit_kwargs, steps_per_epoch):
    """Raises if finite `x` cannot give whole epochs of `steps_per_epoch`.

    With `steps_per_epoch`, Keras keeps one iterator over finite data across
    epochs and ends an epoch early when it runs out, so training would stop
    short of the budget unless the data holds a whole number of epochs.
    Data of unknown or infinite length is not checked.
    """
    if isinstance(x, tf.data.Dataset):
        available = int(x.cardinality())
        if available < 0:  # Unknown or infinite.
            return
    else:
        try:
            available = _batches_per_epoch(x, fit_kwargs, steps_per_epoch)
        except (ValueError, TypeError, NotImplementedError):
            return  # No known length (a generator, an unsized PyDataset).
    if available and available % steps_per_epoch == 0:
        return
    raise ValueError(
        f"Argument `steps_per_epoch` must divide the {available} batches "
        "that `x` gives per pass: Keras ends an epoch early when finite data "
        "runs out, so training would stop short of the budget. Repeat the "
        "data (`x.repeat()` for a `tf.data.Dataset`) or leave "
        "`steps_per_epoch` unset to use one pass per epoch. "
        f"Received: steps_per_epoch={steps_per_epoch!r}"
    )


def _check_model(model):
    if not isinstance(model, keras.Model) or not model.compiled:
        raise ValueError(
            "Argument `model` must be a compiled `keras.Model`: call "
            "`model.compile(optimizer=..., loss=...)` before "
            f"`budgeted_keras.fit`. Received: model={model!r}"
        )


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
            way. With `initial_epoch` (passed on to `model.fit`), the
            epochs needed for the rest of the budget after the updates the
            optimizer has already applied are counted from it.
        callbacks: Optional list of further `keras.callbacks.Callback`s.
        **kwargs: Passed on to `model.fit` (`initial_epoch`,
            `validation_data`, `verbose`, ...).

    Returns:
        The `History` of `model.fit`.

    Raises:
        ValueError: before training starts: if `model` is not compiled, if
            `epochs` is too few for the budget, if the length of `x` is
            unknown and `steps_per_epoch` is not given, if `steps_per_epoch`
            does not divide the batches of finite `x` (Keras would end
            epochs early), or as `check_callbacks` and `BudgetCallback` do.
    """
    budget = budget_lib.as_budget(budget)
    _check_model(model)
    callbacks = callbacks_lib.check_callbacks(callbacks, model.optimizer)
    if steps_per_epoch is None:
        steps_per_epoch = _batches_per_epoch(x, kwargs)
    else:
        steps_per_epoch = _checks.integer("steps_per_epoch", steps_per_epoch)
        _check_steps_per_epoch(x, kwargs, steps_per_epoch)
        kwargs["steps_per_epoch"] = steps_per_epoch
    # Epochs up to the end of the budget, from `initial_epoch` on and the
    # updates the optimizer has already applied (a resumed run's, or none).
    initial_epoch = _checks.integer(
        "initial_epoch", kwargs.get("initial_epoch", 0), minimum=0
    )
    done = callbacks_lib._applied_updates(model.optimizer)
    remaining = max(
        budget.batches - done * budget.gradient_accumulation_steps, 0
    )
    needed = initial_epoch + math.ceil(remaining / steps_per_epoch)
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
