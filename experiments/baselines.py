"""The optimizers and learning rates of every method in the budget sweep.

A method is either a budget-aware schedule (a `budgeted_keras.schedules`
name, trained with SGD) or one of the baselines the budgeted-training study
compares them with, all at the same budget of `T` updates:

- `offshelf`: the full-length step schedule (drops x0.1 at 1/3 and 2/3 of
  the FULL budget), simply stopped after `T` updates, so that a budget under
  1/3 never decays.
- `subsample`: the full-length step schedule on a random subset of the
  training data, sized so that the full number of epochs on it costs the
  same `T` updates (see `subsample_size`).
- `adam`, `adamw`: Keras' Adam and AdamW at their usual settings (constant
  learning rate 1e-3; AdamW's weight decay 0.004, its Keras default).
- `onecycle`: the one-cycle policy over the budget (`OneCycle`).
- `sgdr`: cosine with warm restarts (`keras.optimizers.schedules.
  CosineDecayRestarts`), three cycles of T/7, 2T/7 and 4T/7 updates (not
  rounded) that end with the budget.

Reference: Li, Yumer, Ramanan. "Budgeted Training: Rethinking Deep Neural
Network Training Under Resource Constraints." ICLR 2020.
"""

import math

import keras
import numpy as np
from keras import ops

import budgeted_keras as bk
from budgeted_keras.schedules import base
from experiments import config as config_lib
from experiments import sweep_results

# The names, their report labels and the baselines whose 100% run is the
# `step` run live in `sweep_results`, which the report reads without Keras.
BASELINES = sweep_results.BASELINES
SAME_AS_STEP_AT_FULL_BUDGET = sweep_results.SAME_AS_STEP_AT_FULL_BUDGET
ADAM_LEARNING_RATE = 1e-3
ADAMW_WEIGHT_DECAY = 0.004


@keras.saving.register_keras_serializable(package="budgeted_keras")
class OneCycle(base.BudgetSchedule):
    """The one-cycle policy (Smith and Topin, 2019) over a budget.

    With `q = peak_fraction`, `a = 1 / div_factor` (start) and
    `e = a / final_div_factor` (end), as fractions of the peak rate `lr0`:

        f(p) = a + (1 - a) (1 - cos(pi p / q)) / 2           for p < q
        f(p) = e + (1 - e) (1 + cos(pi (p - q) / (1 - q))) / 2  for p >= q

    rising from `lr0 / 25` to `lr0` over the first 30% of the budget and
    annealing to `lr0 / 250000` at its end (PyTorch's `OneCycleLR` defaults,
    cosine annealing; the momentum is not cycled).

    Args:
        initial_learning_rate: Python float >= 0. The peak rate `lr0`.
        budget: A `budgeted_keras.Budget` or Python int of updates.
        peak_fraction: Python float in (0, 1). Where the rate peaks.
        div_factor: Python float > 0. `lr0` over the starting rate.
        final_div_factor: Python float > 0. Starting rate over the end rate.
    """

    def __init__(
        self,
        initial_learning_rate,
        budget,
        peak_fraction=0.3,
        div_factor=25.0,
        final_div_factor=1e4,
        **kwargs,
    ):
        super().__init__(initial_learning_rate, budget, **kwargs)
        self.peak_fraction = float(peak_fraction)
        if not 0 < self.peak_fraction < 1:
            raise ValueError(
                "Argument `peak_fraction` must be in (0, 1). "
                f"Received: peak_fraction={peak_fraction!r}"
            )
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)
        if self.div_factor <= 0 or self.final_div_factor <= 0:
            raise ValueError(
                "Arguments `div_factor` and `final_div_factor` must be > 0. "
                f"Received: div_factor={div_factor!r}, "
                f"final_div_factor={final_div_factor!r}"
            )

    def factor(self, progress, decay_step):
        q = self.peak_fraction
        start = 1.0 / self.div_factor
        end = start / self.final_div_factor
        rise = start + (1.0 - start) * 0.5 * (
            1.0 - ops.cos(math.pi * ops.minimum(progress / q, 1.0))
        )
        fall_progress = ops.maximum(progress - q, 0.0) / (1.0 - q)
        fall = end + (1.0 - end) * 0.5 * (
            1.0 + ops.cos(math.pi * fall_progress)
        )
        return ops.where(progress < q, rise, fall)

    def shape_config(self):
        return {
            "peak_fraction": self.peak_fraction,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
        }


def subsample_size(train_size, fraction):
    """Examples in the `subsample` baseline's subset: `round(f * N)`, >= 1.

    Training on it for the full recipe's epochs then costs `fraction` of the
    full budget's updates (up to the rounding of the last batch of an
    epoch); the run is held to exactly the same number of updates `T` as the
    other methods at that budget.
    """
    return max(1, int(math.floor(fraction * train_size + 0.5)))


def subsample_indices(train_size, fraction, seed):
    """Sorted indices of the `subsample` subset, drawn without replacement."""
    rng = np.random.default_rng(seed)
    size = subsample_size(train_size, fraction)
    return np.sort(rng.choice(train_size, size=size, replace=False))


def learning_rate_and_optimizer(
    method,
    *,
    budget,
    full_budget,
    learning_rate,
    weight_decay,
    optimizer="sgd",
    warmup_fraction=0.0,
):
    """The learning rate (a schedule or a float) and optimizer of a method.

    Args:
        method: Python str. A schedule name or one of `BASELINES`.
        budget: `budgeted_keras.Budget`, the run's budget `T`.
        full_budget: `budgeted_keras.Budget`, the full (100%) budget.
        learning_rate: Python float. Base (peak) rate of the SGD methods.
        weight_decay: Python float. Decoupled weight decay of SGD.
        optimizer: Python str. `config.OPTIMIZERS` name of the schedule
            methods and SGD baselines.
        warmup_fraction: Python float. Warmup of the budget-aware schedules.

    Returns:
        A `(learning_rate, optimizer)` pair.

    Raises:
        ValueError: for an unknown method.
    """
    if method == "adam":
        return ADAM_LEARNING_RATE, keras.optimizers.Adam(ADAM_LEARNING_RATE)
    if method == "adamw":
        return ADAM_LEARNING_RATE, keras.optimizers.AdamW(
            ADAM_LEARNING_RATE, weight_decay=ADAMW_WEIGHT_DECAY
        )
    if method == "offshelf":
        # Rescaled with equal budgets is the identity on time, clamped at
        # the budget: the full-length schedule, stopped after T updates.
        full_length = bk.schedules.Step(learning_rate, budget=full_budget)
        schedule = bk.schedules.Rescaled(
            full_length, full_budget=budget, budget=budget, name="OffTheShelf"
        )
    elif method == "subsample":
        schedule = bk.schedules.Step(learning_rate, budget=budget)
    elif method == "onecycle":
        schedule = OneCycle(learning_rate, budget=budget)
    elif method == "sgdr":
        # A float first cycle of T/7 makes the third cycle end exactly at T
        # (a rounded one would restart at full rate in the last updates).
        schedule = keras.optimizers.schedules.CosineDecayRestarts(
            learning_rate,
            first_decay_steps=budget.steps / 7,
            t_mul=2.0,
            m_mul=1.0,
            alpha=0.0,
        )
    else:
        schedule = bk.schedules.get(
            method,
            initial_learning_rate=learning_rate,
            budget=budget,
            warmup_fraction=warmup_fraction or None,
        )
    return schedule, config_lib.make_optimizer(
        optimizer, schedule, weight_decay
    )


def learning_rate_curve(learning_rate, budget, points=101):
    """`[[progress, rate], ...]`: the rates of updates spread over the budget.

    The updates are `t = round(k * (T - 1) / (points - 1))` for `k = 0, ...,
    points - 1` (all of them when `T <= points`), the first and the last
    update of the budget included; `progress` is the exact `t / T`, so the
    last point is at `(T - 1) / T`.
    """
    last = budget.steps - 1
    updates = sorted(
        {int(round(k * last / (points - 1))) for k in range(points)}
    )
    curve = []
    for t in updates:
        if callable(learning_rate):
            rate = float(ops.convert_to_numpy(learning_rate(t)))
        else:
            rate = float(learning_rate)
        curve.append([t / budget.steps, rate])
    return curve
