"""Schedules reject bad arguments with a ValueError naming the argument."""

from absl.testing import absltest
from absl.testing import parameterized

from budgeted_keras import schedules
from tests.schedule_cases import LR0
from tests.schedule_cases import TOTAL
from tests.schedule_cases import piecewise

_NAN = float("nan")
_INF = float("inf")


class BadArgumentTest(parameterized.TestCase):
    """Each bad argument raises ValueError naming the argument."""

    @parameterized.named_parameters(
        (
            "lr_negative",
            schedules.Linear,
            dict(initial_learning_rate=-0.1),
            "initial_learning_rate",
        ),
        (
            "lr_nan",
            schedules.Cosine,
            dict(initial_learning_rate=_NAN),
            "initial_learning_rate",
        ),
        (
            "lr_inf",
            schedules.Step,
            dict(initial_learning_rate=_INF),
            "initial_learning_rate",
        ),
        (
            "lr_string",
            schedules.Linear,
            dict(initial_learning_rate="0.1"),
            "initial_learning_rate",
        ),
        (
            "lr_none",
            schedules.Linear,
            dict(initial_learning_rate=None),
            "initial_learning_rate",
        ),
        ("power_zero", schedules.Polynomial, dict(power=0.0), "power"),
        ("power_negative", schedules.Polynomial, dict(power=-1.0), "power"),
        ("power_nan", schedules.Polynomial, dict(power=_NAN), "power"),
        (
            "exponential_rate_negative",
            schedules.Exponential,
            dict(rate=-1.0),
            "rate",
        ),
        (
            "inverse_time_rate_negative",
            schedules.InverseTime,
            dict(rate=-1.0),
            "rate",
        ),
        (
            "inverse_time_rate_inf",
            schedules.InverseTime,
            dict(rate=_INF),
            "rate",
        ),
        ("milestones_empty", schedules.Step, dict(milestones=()), "milestones"),
        (
            "milestones_none",
            schedules.Step,
            dict(milestones=None),
            "milestones",
        ),
        (
            "milestones_decreasing",
            schedules.Step,
            dict(milestones=(0.5, 0.3)),
            "milestones",
        ),
        (
            "milestones_repeated",
            schedules.Step,
            dict(milestones=(0.5, 0.5)),
            "milestones",
        ),
        (
            "milestones_above_one",
            schedules.Step,
            dict(milestones=(0.5, 1.5)),
            "milestones",
        ),
        (
            "milestones_zero",
            schedules.Step,
            dict(milestones=(0.0, 0.5)),
            "milestones",
        ),
        (
            "milestones_nan",
            schedules.Step,
            dict(milestones=(_NAN,)),
            "milestones",
        ),
        ("factor_negative", schedules.Step, dict(factor=-0.1), "factor"),
        ("factor_nan", schedules.Step, dict(factor=_NAN), "factor"),
        (
            "upper_below_lower",
            schedules.HyperbolicTangent,
            dict(lower=3.0, upper=-6.0),
            "upper",
        ),
        (
            "upper_equals_lower",
            schedules.HyperbolicTangent,
            dict(lower=1.0, upper=1.0),
            "upper",
        ),
        ("lower_nan", schedules.HyperbolicTangent, dict(lower=_NAN), "lower"),
        ("budget_zero", schedules.Linear, dict(budget=0), "budget"),
        ("budget_negative", schedules.Linear, dict(budget=-5), "budget"),
        ("budget_string", schedules.Linear, dict(budget="x"), "budget"),
        ("budget_float", schedules.Linear, dict(budget=1.5), "budget"),
        ("budget_bool", schedules.Linear, dict(budget=True), "budget"),
        ("budget_none", schedules.Linear, dict(budget=None), "budget"),
        (
            "both_warmups",
            schedules.Linear,
            dict(warmup_steps=10, warmup_fraction=0.1),
            "warmup_steps",
        ),
        (
            "warmup_fraction_one",
            schedules.Linear,
            dict(warmup_fraction=1.0),
            "warmup_fraction",
        ),
        (
            "warmup_fraction_negative",
            schedules.Linear,
            dict(warmup_fraction=-0.1),
            "warmup_fraction",
        ),
        (
            "warmup_fraction_nan",
            schedules.Linear,
            dict(warmup_fraction=_NAN),
            "warmup_fraction",
        ),
        (
            "warmup_steps_negative",
            schedules.Linear,
            dict(warmup_steps=-1),
            "warmup_steps",
        ),
        (
            "warmup_steps_fractional",
            schedules.Linear,
            dict(warmup_steps=1.5),
            "warmup_steps",
        ),
    )
    def test_bad_argument(self, cls, kwargs, argument):
        arguments = dict(initial_learning_rate=LR0, budget=TOTAL)
        arguments.update(kwargs)
        with self.assertRaisesRegex(ValueError, f"`{argument}`"):
            cls(**arguments)

    @parameterized.named_parameters(
        ("schedule_float", dict(schedule=0.1), "schedule"),
        ("schedule_none", dict(schedule=None), "schedule"),
        ("full_budget_zero", dict(full_budget=0), "full_budget"),
        ("full_budget_string", dict(full_budget="x"), "full_budget"),
        ("budget_zero", dict(budget=0), "budget"),
        ("budget_string", dict(budget="x"), "budget"),
    )
    def test_bad_rescaled_argument(self, kwargs, argument):
        arguments = dict(schedule=piecewise(), full_budget=9000, budget=900)
        arguments.update(kwargs)
        with self.assertRaisesRegex(ValueError, f"`{argument}`"):
            schedules.Rescaled(**arguments)

    def test_message_shows_received_value(self):
        with self.assertRaisesRegex(
            ValueError, r"Received: initial_learning_rate=-0\.1"
        ):
            schedules.Linear(-0.1, TOTAL)


if __name__ == "__main__":
    absltest.main()
