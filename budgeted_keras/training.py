"""`fit`: `model.fit` for exactly the updates a budget allows."""

import tensorflow as tf

from budgeted_keras import budget as budget_lib
from budgeted_keras import callbacks as callbacks_lib


def fit(model, x, budget, *, steps_per_epoch=None, callbacks=None, **kwargs):
    """Trains `model` on `x` for exactly `budget.steps` applied updates.

    Runs `model.fit` for `budget.epochs_for(steps_per_epoch)` epochs with a
    `BudgetCallback` first in the callback list (so `learning_rate` and
    `budget_used` reach every later callback's `logs`), after
    `check_callbacks`. The last epoch stops in the middle when the budget
    ends there.

    Args:
        model: A compiled `keras.Model`.
        x: Training data as `model.fit` takes it: a batched `tf.data.Dataset`,
            a `keras.utils.PyDataset`, or arrays (then pass `batch_size`).
        budget: A `budgeted_keras.Budget` or Python int >= 1 of updates.
        steps_per_epoch: Optional Python int >= 1. Batches per epoch; by
            default the length of `x` (cardinality of a dataset, or
            `ceil(len(x) / batch_size)` for arrays).
        callbacks: Optional list of further callbacks.
        **kwargs: Passed on to `model.fit` (not `epochs`).

    Returns:
        The `History` of `model.fit`.

    Raises:
        ValueError: if `epochs` is passed, if the length of `x` is unknown and
            `steps_per_epoch` is not given, or as `check_callbacks` and
            `BudgetCallback` do.
    """
    if "epochs" in kwargs:
        raise ValueError(
            "Argument `epochs` is set from the budget; pass `budget` only. "
            f"Received: epochs={kwargs['epochs']!r}"
        )
    budget = budget_lib.as_budget(budget)
    callbacks = list(callbacks or [])
    callbacks_lib.check_callbacks(callbacks, model.optimizer)
    if steps_per_epoch is None:
        if hasattr(x, "shape") and kwargs.get("batch_size"):
            steps_per_epoch = budget_lib.Budget(
                examples=len(x), batch_size=kwargs["batch_size"]
            ).batches
        else:
            steps_per_epoch = budget_lib.Budget(epochs=1, dataset=x).batches
    else:
        kwargs["steps_per_epoch"] = steps_per_epoch
    epochs = budget.epochs_for(steps_per_epoch)
    if isinstance(x, tf.data.Dataset):
        # A dataset carries its own shuffling; Keras warns on the default.
        kwargs.setdefault("shuffle", False)
    return model.fit(
        x,
        epochs=epochs,
        callbacks=[callbacks_lib.BudgetCallback(budget)] + callbacks,
        **kwargs,
    )
