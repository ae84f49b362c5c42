"""Schedule rates at given updates: the paper's values and the formulas.

Conventions (lr0 = 0.1, T = 300, 0-based updates) are in `schedule_cases`.
"""

import itertools
import math

from absl.testing import absltest
from absl.testing import parameterized

import budgeted_keras
from budgeted_keras import schedules
from tests.schedule_cases import CLASSES
from tests.schedule_cases import LR0
from tests.schedule_cases import NAMES
from tests.schedule_cases import TOTAL
from tests.schedule_cases import assert_close
from tests.schedule_cases import expected_rate
from tests.schedule_cases import rate_of

Budget = budgeted_keras.Budget

_STEPS = (0, 1, 30, 75, 99, 100, 101, 150, 180, 199, 200, 225, 299, 300)
_SMOOTH_CASES = [
    (f"{name}_{step}", name, step)
    for name in NAMES
    if name != "step"
    for step in _STEPS
]


class ReferenceValuesTest(parameterized.TestCase):
    """Rates at given updates, lr0 = 0.1, T = 300."""

    @parameterized.named_parameters(
        # The paper's reference values, given to the digits shown there.
        ("linear_150", "linear", 150, 0.05),
        ("cosine_100", "cosine", 100, 0.075),
        ("htd_200", "hyperbolic_tangent", 200, 0.05),
        ("htd_180", "hyperbolic_tangent", 180, 0.07685),
        ("poly_150", "polynomial", 150, 0.05359),
        ("exponential_30", "exponential", 30, 0.03679),
        ("step_99", "step", 99, 0.1),
        ("step_100", "step", 100, 0.01),
        ("step_200", "step", 200, 0.001),
        ("constant_299", "constant", 299, 0.1),
        ("linear_0", "linear", 0, 0.1),
        ("linear_300", "linear", 300, 0.0),
        ("cosine_300", "cosine", 300, 0.0),
        ("poly_300", "polynomial", 300, 0.0),
        ("inverse_time_300", "inverse_time", 300, 0.0000999),
    )
    def test_paper_values(self, name, step, expected):
        # Half a unit in the last digit given.
        assert_close(
            self, rate_of(CLASSES[name](LR0, TOTAL), step), expected, 0, 5e-6
        )

    @parameterized.named_parameters(*_SMOOTH_CASES)
    def test_smooth_shapes(self, name, step):
        assert_close(
            self,
            rate_of(CLASSES[name](LR0, TOTAL), step),
            expected_rate(name, step),
        )

    @parameterized.named_parameters(
        # Default milestones 1/3, 2/3 of 300 updates: drops at 100 and 200.
        ("start", 0, 0.1),
        ("first_phase", 50, 0.1),
        ("before_first_drop", 99, 0.1),
        ("first_drop", 100, 0.01),
        ("second_phase", 150, 0.01),
        ("before_second_drop", 199, 0.01),
        ("second_drop", 200, 0.001),
        ("third_phase", 250, 0.001),
        ("last_update", 299, 0.001),
        ("budget", 300, 0.001),
        ("past_budget", 3000, 0.001),
    )
    def test_step(self, step, expected):
        assert_close(self, rate_of(schedules.Step(LR0, TOTAL), step), expected)

    @parameterized.named_parameters(
        # T = 10: p = 1/3 at 3.33, so the first drop is at update 4
        # (p = 0.4); p = 2/3 at 6.67, so the second is at 7.
        ("t10_3", dict(budget=10), 3, 1.0),
        ("t10_4", dict(budget=10), 4, 0.1),
        ("t10_6", dict(budget=10), 6, 0.1),
        ("t10_7", dict(budget=10), 7, 0.01),
        ("half_49", dict(budget=100, milestones=(0.5,), factor=0.5), 49, 1.0),
        ("half_50", dict(budget=100, milestones=(0.5,), factor=0.5), 50, 0.5),
        ("half_100", dict(budget=100, milestones=(0.5,), factor=0.5), 100, 0.5),
        # Milestones at 2.5 -> 3, 5 and 10 updates of T = 10, factor 0.5.
        (
            "quarters_2",
            dict(budget=10, milestones=(0.25, 0.5, 1.0), factor=0.5),
            2,
            1.0,
        ),
        (
            "quarters_3",
            dict(budget=10, milestones=(0.25, 0.5, 1.0), factor=0.5),
            3,
            0.5,
        ),
        (
            "quarters_5",
            dict(budget=10, milestones=(0.25, 0.5, 1.0), factor=0.5),
            5,
            0.25,
        ),
        (
            "quarters_9",
            dict(budget=10, milestones=(0.25, 0.5, 1.0), factor=0.5),
            9,
            0.25,
        ),
        (
            "quarters_10",
            dict(budget=10, milestones=(0.25, 0.5, 1.0), factor=0.5),
            10,
            0.125,
        ),
        (
            "quarters_99",
            dict(budget=10, milestones=(0.25, 0.5, 1.0), factor=0.5),
            99,
            0.125,
        ),
    )
    def test_step_milestones(self, kwargs, step, expected):
        schedule = schedules.Step(1.0, **kwargs)
        assert_close(self, rate_of(schedule, step), expected)

    @parameterized.named_parameters(
        (
            "exponential_rate_5",
            schedules.Exponential,
            dict(rate=5.0),
            lambda p: math.exp(-5.0 * p),
        ),
        (
            "polynomial_power_2",
            schedules.Polynomial,
            dict(power=2.0),
            lambda p: (1.0 - p) ** 2,
        ),
        (
            "htd_symmetric",
            schedules.HyperbolicTangent,
            dict(lower=-3.0, upper=3.0),
            lambda p: 0.5 * (1.0 - math.tanh(-3.0 + 6.0 * p)),
        ),
        (
            "inverse_time_rate_10",
            schedules.InverseTime,
            dict(rate=10.0),
            lambda p: 1.0 / (1.0 + 10.0 * p),
        ),
        (
            "exponential_rate_0",
            schedules.Exponential,
            dict(rate=0.0),
            lambda p: 1.0,
        ),
    )
    def test_shape_parameters(self, cls, kwargs, factor):
        schedule = cls(0.2, 50, **kwargs)
        for step in (0, 10, 25, 40, 49, 50, 500):
            with self.subTest(step=step):
                expected = 0.2 * factor(min(step, 50) / 50)
                assert_close(self, rate_of(schedule, step), expected)

    @parameterized.named_parameters(
        ("epochs", Budget(epochs=2, steps_per_epoch=50), 25, 0.075),
        ("examples", Budget(examples=1000, batch_size=10), 50, 0.05),
        ("int", 100, 99, 0.001),
    )
    def test_budget_forms(self, budget, step, expected):
        assert_close(
            self, rate_of(schedules.Linear(LR0, budget), step), expected
        )

    def test_zero_base_rate(self):
        for name in NAMES:
            with self.subTest(name=name):
                self.assertEqual(rate_of(CLASSES[name](0.0, TOTAL), 10), 0.0)


class PastBudgetTest(parameterized.TestCase):
    @parameterized.named_parameters(*[(name, name) for name in NAMES])
    def test_holds_end_value(self, name):
        schedule = CLASSES[name](LR0, TOTAL)
        end = rate_of(schedule, TOTAL)
        assert_close(self, end, expected_rate(name, TOTAL))
        for step in (301, 450, 3000, 10**6):
            with self.subTest(step=step):
                value = rate_of(schedule, step)
                self.assertEqual(value, end)
                self.assertGreaterEqual(value, 0.0)
                self.assertTrue(math.isfinite(value))

    @parameterized.named_parameters(*[(name, name) for name in NAMES])
    def test_never_negative_or_increasing(self, name):
        schedule = CLASSES[name](LR0, TOTAL)
        values = [rate_of(schedule, step) for step in range(0, 320, 7)]
        self.assertTrue(all(v >= 0 and math.isfinite(v) for v in values))
        self.assertTrue(all(b <= a for a, b in itertools.pairwise(values)))

    @parameterized.named_parameters(*[(name, name) for name in NAMES])
    def test_negative_step_is_start(self, name):
        schedule = CLASSES[name](LR0, TOTAL)
        self.assertEqual(rate_of(schedule, -5), rate_of(schedule, 0))


if __name__ == "__main__":
    absltest.main()
