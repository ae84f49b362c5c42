"""The base class of budget-aware learning-rate schedules.

A budget-aware schedule is a function of progress `p = t / T` through a
budget of `T` optimizer updates, not of the raw step count, so that the same
shape (decay to its end value) fits any budget.
"""

import math

import keras
from keras import ops

from budgeted_keras import _checks
from budgeted_keras import budget as budget_lib


def update_index(step, gradient_accumulation_steps):
    """The 0-based index of the applied update that `step` belongs to.

    Keras passes `optimizer.iterations` counted in batches; with gradient
    accumulation an update is applied once every `gradient_accumulation_steps`
    batches, so the update index is `floor(step / gradient_accumulation_steps)`.

    Args:
        step: Scalar int or float tensor (or Python number).
        gradient_accumulation_steps: Python int >= 1.

    Returns:
        A float32 scalar tensor. Exact for indices below 2**24; larger
        indices are only ever compared against the budget, past which the
        schedules hold their end value.
    """
    step = ops.convert_to_tensor(step)
    is_int = "int" in keras.backend.standardize_dtype(step.dtype)
    if gradient_accumulation_steps > 1:
        if is_int:
            step = ops.floor_divide(step, gradient_accumulation_steps)
        else:
            step = ops.floor(
                ops.cast(step, "float32") / gradient_accumulation_steps
            )
    return ops.cast(step, "float32")


class BudgetSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Base class: `initial_learning_rate * f(p)` over a budget, with warmup.

    Subclasses define the factor `f(p)` on progress `p` in [0, 1]. With
    optional linear warmup of `W` updates inside the budget of `T` updates:

        lr(t) = lr0 * t / W                 for 0 <= t < W
        lr(t) = lr0 * f(min(t - W, D) / D)  for t >= W,   D = T - W

    where `t` is the 0-based index of the applied update (Keras'
    `optimizer.iterations`, so the first update uses `p = 0`), `lr0` is
    `initial_learning_rate`, and `T` is `budget.steps`. The decay reaches its
    end at `t = T` and is continuous at the end of warmup (both sides give
    `lr0` at `t = W`); the first warmup update has learning rate 0. Past the
    budget the schedule holds `lr0 * f(1)`. Values are float32 whatever the
    step's dtype or the dtype policy.

    Args:
        initial_learning_rate: Python float >= 0. The base rate `lr0`.
        budget: A `budgeted_keras.Budget`, or a Python int >= 1 of updates.
        warmup_steps: Optional Python int >= 0. Warmup updates `W`.
        warmup_fraction: Optional Python float in [0, 1). Warmup as a
            fraction of the budget: `W = round(warmup_fraction * T)`. At most
            one of `warmup_steps` and `warmup_fraction` may be given.
        name: Optional Python str of ASCII letters, digits, `_`, `.` and `-`
            (what a name scope takes in a traced function). Name scope of the
            computation; None (the default) gives the class name.

    Raises:
        ValueError: if `initial_learning_rate` is negative or not finite, if
            `budget` is not a budget, if both warmup arguments are given, if
            the warmup is negative or not shorter than the budget, or if
            `name` is not None or such a str.
    """

    def __init__(
        self,
        initial_learning_rate,
        budget,
        *,
        warmup_steps=None,
        warmup_fraction=None,
        name=None,
    ):
        super().__init__()
        self.initial_learning_rate = _checks.number(
            "initial_learning_rate", initial_learning_rate, minimum=0
        )
        self.budget = budget_lib.as_budget(budget)
        total = self.budget.steps
        if warmup_steps is not None and warmup_fraction is not None:
            raise ValueError(
                "At most one of `warmup_steps` and `warmup_fraction` may be "
                f"given. Received: warmup_steps={warmup_steps!r}, "
                f"warmup_fraction={warmup_fraction!r}"
            )
        if warmup_fraction is not None:
            fraction = _checks.number(
                "warmup_fraction", warmup_fraction, minimum=0
            )
            if fraction >= 1:
                raise ValueError(
                    "Argument `warmup_fraction` must be < 1 (warmup is counted "
                    "inside the budget). "
                    f"Received: warmup_fraction={fraction!r}"
                )
            warmup = int(math.floor(fraction * total + 0.5))
            argument, value = "warmup_fraction", fraction
        else:
            warmup = _checks.integer(
                "warmup_steps",
                0 if warmup_steps is None else warmup_steps,
                minimum=0,
            )
            argument, value = "warmup_steps", warmup
        if warmup >= total:
            raise ValueError(
                f"Argument `{argument}` gives {warmup} warmup updates, which "
                f"is not shorter than the budget of {total} updates. "
                f"Received: {argument}={value!r}"
            )
        self.warmup_steps = warmup
        self.name = _checks.scope_name("name", name, type(self).__name__)

    @property
    def decay_steps(self):
        """Python int: updates of the decay phase, `T - W`."""
        return self.budget.steps - self.warmup_steps

    def factor(self, progress, decay_step):
        """The factor `f` on the base rate; subclasses override.

        Args:
            progress: float32 tensor, `p` in [0, 1].
            decay_step: float32 tensor, updates since warmup, in [0, D].
        """
        raise NotImplementedError

    def shape_config(self):
        """The subclass's shape parameters, as constructor arguments."""
        return {}

    def __call__(self, step):
        with keras.name_scope(self.name):
            update = ops.maximum(
                update_index(step, self.budget.gradient_accumulation_steps),
                0.0,
            )
            lr0 = ops.convert_to_tensor(self.initial_learning_rate, "float32")
            warmup = float(self.warmup_steps)
            decay_steps = float(self.decay_steps)
            decay_step = ops.clip(update - warmup, 0.0, decay_steps)
            progress = decay_step / decay_steps
            lr = lr0 * ops.cast(self.factor(progress, decay_step), "float32")
            if self.warmup_steps:
                lr = ops.where(update < warmup, lr0 * update / warmup, lr)
            return ops.cast(lr, "float32")

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "budget": self.budget.get_config(),
            "warmup_steps": self.warmup_steps,
            **self.shape_config(),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["budget"] = budget_lib.as_budget(config["budget"])
        return cls(**config)
