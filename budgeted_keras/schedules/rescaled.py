"""Fitting a schedule written for a full-length run into a smaller budget."""

import keras
from keras import ops

from budgeted_keras import _checks
from budgeted_keras import budget as budget_lib
from budgeted_keras.schedules import base


@keras.saving.register_keras_serializable(package="budgeted_keras")
class Rescaled(keras.optimizers.schedules.LearningRateSchedule):
    """Rescales the time axis of any schedule to fit a budget.

    Given a `schedule` written for a full run of `T_full` updates (e.g. a
    `keras.optimizers.schedules.PiecewiseConstantDecay` for a 90-epoch
    recipe) and a budget of `T` updates:

        lr(t) = schedule(min(t, T) * T_full / T)

    where `t` is the 0-based update index (`optimizer.iterations`). The whole
    shape, milestones included, moves proportionally into the budget; past the
    budget the rate holds `schedule(T_full)`. The wrapped schedule receives a
    float32 step. To rescale a plain function of the step, wrap it in a
    `LearningRateSchedule` subclass (with `get_config`, so the optimizer can
    be saved).

    >>> full = keras.optimizers.schedules.PiecewiseConstantDecay(
    ...     [3000, 6000], [0.1, 0.01, 0.001])
    >>> sched = Rescaled(full, full_budget=9000, budget=900)
    >>> [round(float(sched(t)), 6) for t in (299, 301, 601)]
    [0.1, 0.01, 0.001]

    Args:
        schedule: A `keras.optimizers.schedules.LearningRateSchedule` for the
            full-length run.
        full_budget: A `Budget` or Python int >= 1: `T_full`.
        budget: A `Budget` or Python int >= 1: `T`. Its
            `gradient_accumulation_steps` sets how batches map to updates.
        name: Optional Python str of ASCII letters, digits, `_`, `.` and `-`:
            the name scope; None (the default) gives "Rescaled".

    Raises:
        ValueError: if `schedule` is not a `LearningRateSchedule`, a budget is
            invalid, or `name` is not None or such a str.
    """

    def __init__(self, schedule, full_budget, budget, name=None):
        super().__init__()
        if not isinstance(
            schedule, keras.optimizers.schedules.LearningRateSchedule
        ):
            raise ValueError(
                "Argument `schedule` must be a "
                "`keras.optimizers.schedules.LearningRateSchedule` (wrap a "
                "plain function of the step in a subclass of it). "
                f"Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.full_budget = budget_lib.as_budget(full_budget, "full_budget")
        self.budget = budget_lib.as_budget(budget)
        self.name = _checks.scope_name("name", name, "Rescaled")

    def __call__(self, step):
        with keras.name_scope(self.name):
            update = base.update_index(
                step, self.budget.gradient_accumulation_steps
            )
            update = ops.clip(update, 0.0, float(self.budget.steps))
            scale = self.full_budget.steps / self.budget.steps
            return ops.cast(self.schedule(update * scale), "float32")

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "full_budget": self.full_budget.get_config(),
            "budget": self.budget.get_config(),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = keras.saving.deserialize_keras_object(
            config["schedule"]
        )
        return cls(**config)
