"""Budget-aware schedules: the shapes studied in budgeted training.

Each schedule is `lr(t) = lr0 * f(p)` with `p = t / T` the progress through
a budget of `T` updates (after optional warmup; see `BudgetSchedule`), `t` the
0-based update index (`optimizer.iterations`), `p` clamped to [0, 1] so that
past the budget every schedule holds its end value `lr0 * f(1)`.

Reference: Li, Yumer, Ramanan. "Budgeted Training: Rethinking Deep Neural
Network Training Under Resource Constraints." ICLR 2020. arXiv:1905.04753.
"""

import math
import numbers

import keras
from keras import ops

from budgeted_keras import _checks
from budgeted_keras.schedules import base

_register = keras.saving.register_keras_serializable(package="budgeted_keras")


def _milestones(value):
    """Returns `value` as a tuple of floats, strictly increasing in (0, 1]."""
    requirement = (
        "Argument `milestones` must be a non-empty sequence of strictly "
        "increasing fractions in (0, 1], such as (0.5,) for one drop. "
        f"Received: milestones={value!r}"
    )
    # A str iterates into characters; a number or None does not iterate.
    if isinstance(value, (str, bytes)):
        raise ValueError(requirement)
    try:
        milestones = tuple(value)
    except TypeError:
        raise ValueError(requirement) from None
    previous = 0.0
    for m in milestones:
        if isinstance(m, bool) or not isinstance(m, numbers.Real):
            raise ValueError(requirement)
        if not previous < m <= 1:  # Also rejects NaN.
            raise ValueError(requirement)
        previous = m
    if not milestones:
        raise ValueError(requirement)
    return tuple(float(m) for m in milestones)


@_register
class Constant(base.BudgetSchedule):
    """Budget-unaware baseline: `f(p) = 1`; the end value is `lr0`.

    >>> float(Constant(0.1, budget=300)(299))
    0.1...
    """

    def factor(self, progress, decay_step):
        return ops.ones_like(progress)


@_register
class Step(base.BudgetSchedule):
    """Step decay at fixed fractions of the budget.

    `f(p) = factor ** k(p)`, where `k(p)` counts the milestones `m` with
    `p >= m`. With the defaults (`milestones=(1/3, 2/3)`, `factor=0.1`) the
    rate is `lr0` for `p < 1/3`, `0.1 lr0` for `1/3 <= p < 2/3` and
    `0.01 lr0` (the end value) from `p >= 2/3`. Milestones are compared in
    whole updates, `t - W >= m * D` (to 1e-6), so a drop applies at exactly
    the update where `p` reaches `m`.

    >>> sched = Step(0.1, budget=300)
    >>> [round(float(sched(t)), 6) for t in (99, 100, 200)]
    [0.1, 0.01, 0.001]

    Args:
        milestones: Sequence of Python floats, strictly increasing, in
            (0, 1]. Fractions of the decay phase where the rate drops.
        factor: Python float >= 0. Multiplier applied at each milestone.
        **kwargs: Base-class arguments (`initial_learning_rate`, `budget`,
            warmup, `name`).
    """

    def __init__(
        self,
        initial_learning_rate,
        budget,
        milestones=(1 / 3, 2 / 3),
        factor=0.1,
        **kwargs,
    ):
        super().__init__(initial_learning_rate, budget, **kwargs)
        self.milestones = _milestones(milestones)
        self.drop_factor = _checks.number("factor", factor, minimum=0)
        self._milestone_updates = [
            float(math.ceil(m * self.decay_steps - 1e-6))
            for m in self.milestones
        ]

    def factor(self, progress, decay_step):
        drops = ops.zeros_like(decay_step)
        for milestone in self._milestone_updates:
            drops = drops + ops.cast(decay_step >= milestone, "float32")
        return ops.power(self.drop_factor, drops)

    def shape_config(self):
        return {"milestones": list(self.milestones), "factor": self.drop_factor}


@_register
class Exponential(base.BudgetSchedule):
    """Exponential decay: `f(p) = exp(-rate * p)`; end value `exp(-rate)`.

    With the default `rate=10` the end value is about 4.5e-5 `lr0`.

    >>> round(float(Exponential(0.1, budget=300)(30)), 5)
    0.03679

    Args:
        rate: Python float >= 0. Decay rate per unit of progress.
        **kwargs: Base-class arguments.
    """

    def __init__(self, initial_learning_rate, budget, rate=10.0, **kwargs):
        super().__init__(initial_learning_rate, budget, **kwargs)
        self.rate = _checks.number("rate", rate, minimum=0)

    def factor(self, progress, decay_step):
        return ops.exp(-self.rate * progress)

    def shape_config(self):
        return {"rate": self.rate}


@_register
class Polynomial(base.BudgetSchedule):
    """Polynomial ("poly") decay: `f(p) = (1 - p) ** power`; ends at 0.

    >>> round(float(Polynomial(0.1, budget=300)(150)), 5)
    0.05359

    Args:
        power: Python float > 0. The exponent (0.9 as for segmentation).
        **kwargs: Base-class arguments.
    """

    def __init__(self, initial_learning_rate, budget, power=0.9, **kwargs):
        super().__init__(initial_learning_rate, budget, **kwargs)
        self.power = _checks.number("power", power, minimum=0, strict=True)

    def factor(self, progress, decay_step):
        return ops.power(1.0 - progress, self.power)

    def shape_config(self):
        return {"power": self.power}


@_register
class Linear(base.BudgetSchedule):
    """Linear decay to zero: `f(p) = 1 - p`; ends at 0.

    The robust default of budgeted training.

    >>> round(float(Linear(0.1, budget=300)(150)), 6)
    0.05
    """

    def factor(self, progress, decay_step):
        return 1.0 - progress


@_register
class Cosine(base.BudgetSchedule):
    """Cosine decay to zero: `f(p) = (1 + cos(pi p)) / 2`; ends at 0.

    >>> round(float(Cosine(0.1, budget=300)(100)), 6)
    0.075
    """

    def factor(self, progress, decay_step):
        return 0.5 * (1.0 + ops.cos(math.pi * progress))


@_register
class HyperbolicTangent(base.BudgetSchedule):
    """Hyperbolic-tangent decay (HTD).

    `f(p) = (1 - tanh(lower + (upper - lower) p)) / 2`. With the defaults
    (`lower=-6`, `upper=3`) it starts at about 1, passes 0.5 at `p = 2/3`,
    and ends at about 0.0025.

    >>> round(float(HyperbolicTangent(0.1, budget=300)(200)), 6)
    0.05

    Args:
        lower: Python float. `L`, the tanh argument at `p = 0`.
        upper: Python float > `lower`. `U`, the tanh argument at `p = 1`.
        **kwargs: Base-class arguments.

    Reference: Hsueh et al., "Stochastic gradient descent with hyperbolic-
    tangent decay on classification", WACV 2019.
    """

    def __init__(
        self, initial_learning_rate, budget, lower=-6.0, upper=3.0, **kwargs
    ):
        super().__init__(initial_learning_rate, budget, **kwargs)
        self.lower = _checks.number("lower", lower)
        self.upper = _checks.number("upper", upper)
        if self.upper <= self.lower:
            raise ValueError(
                "Argument `upper` must be > `lower`. "
                f"Received: upper={upper!r}, lower={lower!r}"
            )

    def factor(self, progress, decay_step):
        span = self.upper - self.lower
        return 0.5 * (1.0 - ops.tanh(self.lower + span * progress))

    def shape_config(self):
        return {"lower": self.lower, "upper": self.upper}


@_register
class InverseTime(base.BudgetSchedule):
    """Inverse-time ("1/t") decay: `f(p) = 1 / (1 + rate p)`.

    Ends at `1 / (1 + rate)`: about 0.001 with the default `rate=1000`.

    >>> round(float(InverseTime(0.1, budget=300)(300)), 7)
    9.99e-05

    Args:
        rate: Python float >= 0. The decay rate per unit of progress.
        **kwargs: Base-class arguments.
    """

    def __init__(self, initial_learning_rate, budget, rate=1000.0, **kwargs):
        super().__init__(initial_learning_rate, budget, **kwargs)
        self.rate = _checks.number("rate", rate, minimum=0)

    def factor(self, progress, decay_step):
        return 1.0 / (1.0 + self.rate * progress)

    def shape_config(self):
        return {"rate": self.rate}
