"""Keras callbacks that hold a run to its budget and report on it."""

import math
import warnings

import keras
import numpy as np

from budgeted_keras import budget as budget_lib

# Callbacks that assign `optimizer.learning_rate` while training. Keras
# forbids that assignment when the optimizer was built with a schedule, and
# raises only when the callback first acts, possibly late in the run.
_LR_SETTING_CALLBACKS = (
    keras.callbacks.ReduceLROnPlateau,
    keras.callbacks.LearningRateScheduler,
)


def _applied_updates(optimizer):
    """Applied updates so far (Keras divides by the accumulation steps)."""
    return int(keras.ops.convert_to_numpy(optimizer.iterations))


def _accumulation_steps(optimizer):
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return inner.gradient_accumulation_steps or 1


def _schedule_of(optimizer):
    """The optimizer's `LearningRateSchedule`, or None for a fixed rate."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    # Keras keeps the schedule only in this attribute; `learning_rate`
    # returns its current value.
    schedule = getattr(inner, "_learning_rate", None)
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        return schedule
    return None


def _callback_list(callbacks):
    """Returns `callbacks` (None, a list, a tuple or a `CallbackList`) as a
    checked, flat list: the callbacks of `CallbackList`s are taken out."""
    if callbacks is None:
        return []
    if isinstance(callbacks, keras.callbacks.CallbackList):
        callbacks = callbacks.callbacks
    if isinstance(callbacks, keras.callbacks.Callback):
        raise ValueError(
            "Argument `callbacks` must be a list of callbacks, not a single "
            f"one: pass callbacks=[{type(callbacks).__name__}(...)]. "
            f"Received: callbacks={callbacks!r}"
        )
    if not isinstance(callbacks, (list, tuple)) or not all(
        isinstance(c, keras.callbacks.Callback) for c in callbacks
    ):
        raise ValueError(
            "Argument `callbacks` must be a list of "
            f"`keras.callbacks.Callback`. Received: callbacks={callbacks!r}"
        )
    flat = []
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.CallbackList):
            flat.extend(_callback_list(callback))
        else:
            flat.append(callback)
    return flat


def check_callbacks(callbacks, optimizer):
    """Checks the callbacks; raises if one would fight the schedule.

    `ReduceLROnPlateau` and `LearningRateScheduler` set the optimizer's
    learning rate, which Keras refuses when the rate is a schedule, and only
    when they first act (for `ReduceLROnPlateau`, at the first plateau, which
    can be most of the budget away). This check moves that failure to the
    start of training. To lower the rate on a plateau within a budget, use a
    budget-aware schedule instead; to hand-drive the rate, compile with a
    float learning rate.

    Args:
        callbacks: A list or tuple of `keras.callbacks.Callback`, or None.
        optimizer: The compiled model's `keras.optimizers.Optimizer`
            (`model.optimizer`).

    Returns:
        The callbacks as a new list (empty for None).

    Raises:
        ValueError: naming `callbacks` if it is not a list of callbacks (a
            single callback included) or holds one that sets the learning
            rate under a schedule; naming `optimizer` if it is not an
            optimizer (as when the model is not compiled).
    """
    callbacks = _callback_list(callbacks)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(
            "Argument `optimizer` must be a `keras.optimizers.Optimizer`: "
            "the `model.optimizer` of a compiled model (compile the model "
            f"first). Received: optimizer={optimizer!r}"
        )
    if _schedule_of(optimizer) is None:
        return callbacks
    for callback in callbacks:
        if isinstance(callback, _LR_SETTING_CALLBACKS):
            raise ValueError(
                f"Argument `callbacks` holds {type(callback).__name__}, which "
                "sets the learning rate, but the optimizer's learning rate is "
                f"a schedule ({type(_schedule_of(optimizer)).__name__}) that "
                "Keras will not let it overwrite. Remove the callback, or "
                "compile with a float learning rate. Received: callbacks="
                f"[..., {type(callback).__name__}(...), ...]"
            )
    return callbacks


class BudgetCallback(keras.callbacks.Callback):
    """Ends training after exactly `budget.steps` applied updates.

    Training stops at the batch that applies the last update of the budget,
    even in the middle of an epoch, and counts updates from
    `optimizer.iterations`, so a run restored from a checkpoint (e.g. by
    `keras.callbacks.BackupAndRestore`) stops at the same update. Updates
    skipped by a `LossScaleOptimizer` (non-finite gradients) are not applied
    and are not counted, exactly as the schedules do not advance on them.

    After every batch and epoch it writes into `logs`:

    - `learning_rate`: the rate used by the last update of that batch (read
      from `optimizer.learning_rate` just before the batch);
    - `budget_used`: applied updates / `budget.steps`, in [0, 1].

    so `History`, `CSVLogger` and `TensorBoard` record them; list this
    callback before those in `callbacks`. Use it with `model.fit(...,
    epochs=budget.epochs_for(steps_per_epoch))` or call
    `budgeted_keras.fit`, which also runs `check_callbacks`.

    Args:
        budget: A `budgeted_keras.Budget` or Python int >= 1 of updates.
        verbose: Python int. 1 prints the budget at the start and the stop.

    Raises:
        ValueError (at the start of training): if the optimizer accumulates
            gradients over a different number of batches than the budget, if
            the optimizer's schedule was built for a different budget, if
            `steps_per_execution` does not divide the budget's batches and
            the batches per epoch, or if
            the budget is already used up.
    """

    def __init__(self, budget, verbose=0):
        super().__init__()
        self.budget = budget_lib.as_budget(budget)
        self.verbose = verbose
        self._next_learning_rate = None
        self.stopped_at = None
        self._batches_in_epoch = 0
        self._short_epoch = None

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        accumulation = _accumulation_steps(optimizer)
        if accumulation != self.budget.gradient_accumulation_steps:
            raise ValueError(
                "Argument `budget` counts one update per "
                f"{self.budget.gradient_accumulation_steps} batch(es) but the "
                f"optimizer accumulates {accumulation}. Build the budget with "
                f"gradient_accumulation_steps={accumulation}. Received: "
                f"budget={self.budget!r}"
            )
        schedule_budget = getattr(_schedule_of(optimizer), "budget", None)
        if schedule_budget is not None and schedule_budget != self.budget:
            raise ValueError(
                "Argument `budget` differs from the budget of the optimizer's "
                f"schedule ({schedule_budget!r}); the schedule would not end "
                f"where training stops. Received: budget={self.budget!r}"
            )
        per_execution = getattr(self.model, "steps_per_execution", 1) or 1
        per_epoch = (self.params or {}).get("steps") or per_execution
        if self.budget.batches % per_execution or per_epoch % per_execution:
            raise ValueError(
                f"Argument `budget` spans {self.budget.batches} batches, in "
                f"epochs of {per_epoch} batches; both must be multiples of "
                f"the model's steps_per_execution={per_execution} for "
                "training to stop exactly at the budget. "
                f"Received: budget={self.budget!r}"
            )
        done = _applied_updates(optimizer)
        if done >= self.budget.steps:
            raise ValueError(
                f"Argument `budget` of {self.budget.steps} updates is already "
                f"used: the optimizer has applied {done}. Received: "
                f"budget={self.budget!r}"
            )
        self.stopped_at = None
        self._batches_in_epoch = 0
        self._short_epoch = None
        if self.verbose:
            print(
                f"BudgetCallback: {self.budget.description}; "
                f"{done} already applied."
            )

    def on_train_batch_begin(self, batch, logs=None):
        self._next_learning_rate = float(
            keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        )

    def _write_logs(self, logs, updates):
        if logs is None:
            return
        if self._next_learning_rate is not None:
            logs["learning_rate"] = self._next_learning_rate
        logs["budget_used"] = min(updates / self.budget.steps, 1.0)

    def on_epoch_begin(self, epoch, logs=None):
        self._batches_in_epoch = 0

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the index of the last batch run (of the execution).
        self._batches_in_epoch = batch + 1
        updates = _applied_updates(self.model.optimizer)
        self._write_logs(logs, updates)
        if updates >= self.budget.steps and self.stopped_at is None:
            self.stopped_at = updates
            self.model.stop_training = True
            if self.verbose:
                print(f"\nBudgetCallback: budget reached at update {updates}.")

    def on_epoch_end(self, epoch, logs=None):
        self._write_logs(logs, _applied_updates(self.model.optimizer))
        steps = (self.params or {}).get("steps")
        if (
            steps
            and self._batches_in_epoch < steps
            and not self.model.stop_training
            and self._short_epoch is None
        ):
            # Keras ends an epoch early only when the data runs out.
            self._short_epoch = (epoch, self._batches_in_epoch, steps)

    def on_train_end(self, logs=None):
        updates = _applied_updates(self.model.optimizer)
        if self.stopped_at is not None or updates >= self.budget.steps:
            return
        if self._short_epoch is not None:
            epoch, seen, steps = self._short_epoch
            cause = (
                f"the data ran out (epoch {epoch} had {seen} of its "
                f"steps_per_epoch={steps} batches: a finite dataset must hold "
                "a whole number of epochs; repeat it with `.repeat()` or "
                "pass its length as `steps_per_epoch`)"
            )
        elif self.model.stop_training:
            cause = "another callback stopped training (e.g. EarlyStopping)"
        else:
            cause = (
                "`fit` ran out of epochs (pass more, e.g. with "
                "`budgeted_keras.fit`, which counts them from the budget)"
            )
        warnings.warn(
            f"Training ended after {updates} of the budget's "
            f"{self.budget.steps} updates: {cause}.",
            stacklevel=2,
        )


class NonFiniteLossError(RuntimeError):
    """Raised by `FailOnNonFiniteLoss`."""


class FailOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops a run loudly when the training loss becomes NaN or infinite.

    Unlike `keras.callbacks.TerminateOnNaN`, which ends training quietly, it
    raises `NonFiniteLossError` naming the range of updates in which the loss
    went bad (the updates since the last batch seen with a finite loss).
    """

    def on_train_begin(self, logs=None):
        self._last_finite = _applied_updates(self.model.optimizer)

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        updates = _applied_updates(self.model.optimizer)
        if math.isfinite(float(np.asarray(loss))):
            self._last_finite = updates
            return
        self.model.stop_training = True
        raise NonFiniteLossError(
            f"Training loss became non-finite ({float(np.asarray(loss))}) "
            f"between update {self._last_finite} and update {updates}. Lower "
            "the learning rate or check the input data."
        )
