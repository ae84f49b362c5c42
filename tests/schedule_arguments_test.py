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
        # A scalar or a str instead of a sequence of fractions.
        (
            "milestones_scalar",
            schedules.Step,
            dict(milestones=0.5),
            "milestones",
        ),
        (
            "milestones_string",
            schedules.Step,
            dict(milestones="0.5"),
            "milestones",
        ),
        (
            "milestones_of_strings",
            schedules.Step,
            dict(milestones=["0.5"]),
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
        ("name_int", schedules.Linear, dict(name=3), "name"),
        ("name_empty", schedules.Cosine, dict(name=""), "name"),
        # Keras reserves `/`; a traced name scope rejects spaces and `:`.
        ("name_slash", schedules.Step, dict(name="a/b"), "name"),
        ("name_space", schedules.Linear, dict(name="my schedule"), "name"),
        ("name_colon", schedules.Linear, dict(name="lr:0"), "name"),
    )
    def test_bad_argument(self, cls, kwargs, argument):
        arguments = dict(initial_learning_rate=LR0, budget=TOTAL)
        arguments.update(kwargs)
        with self.assertRaisesRegex(ValueError, f"`{argument}`"):
            cls(**arguments)

    @parameterized.named_parameters(
        ("schedule_float", dict(schedule=0.1), "schedule"),
        ("schedule_none", dict(schedule=None), "schedule"),
        # Callables that are not `LearningRateSchedule`s.
        ("schedule_builtin", dict(schedule=print), "schedule"),
        ("schedule_function", dict(schedule=lambda step: 0.1), "schedule"),
        ("name_int", dict(name=3), "name"),
        ("name_empty", dict(name=""), "name"),
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

    @parameterized.named_parameters(
        ("list", ["linear"]),
        ("none", None),
        ("int", 3),
        ("class", schedules.Linear),
        ("unknown", "linear_decay"),
    )
    def test_bad_name_for_get(self, name):
        with self.assertRaisesRegex(ValueError, "`name`"):
            schedules.get(name, initial_learning_rate=LR0, budget=TOTAL)

    @parameterized.named_parameters(
        ("default", schedules.Linear, {}, "Linear"),
        ("default_rescaled", schedules.Rescaled, {}, "Rescaled"),
        ("underscore", schedules.Cosine, dict(name="cos_warm"), "cos_warm"),
        ("dot_dash", schedules.Step, dict(name="step.v2-a"), "step.v2-a"),
        ("rescaled", schedules.Rescaled, dict(name="Off_1"), "Off_1"),
    )
    def test_good_name(self, cls, kwargs, expected):
        if cls is schedules.Rescaled:
            arguments = dict(schedule=piecewise(), full_budget=90, budget=9)
        else:
            arguments = dict(initial_learning_rate=LR0, budget=TOTAL)
        self.assertEqual(cls(**arguments, **kwargs).name, expected)

    @parameterized.named_parameters(
        (
            "learning_rate",
            lambda: schedules.Linear(-0.1, TOTAL),
            r"Received: initial_learning_rate=-0\.1",
        ),
        (
            "milestones_scalar",
            lambda: schedules.Step(LR0, TOTAL, milestones=0.5),
            r"sequence.*Received: milestones=0\.5$",
        ),
        (
            "name_list",
            lambda: schedules.get(["linear"], budget=TOTAL),
            r"must be a str.*Received: name=\['linear'\]$",
        ),
        (
            "name_int",
            lambda: schedules.Linear(LR0, TOTAL, name=3),
            "Received: name=3$",
        ),
        (
            "schedule_builtin",
            lambda: schedules.Rescaled(print, 90, 9),
            "LearningRateSchedule.*Received: schedule=<built-in function",
        ),
    )
    def test_message_shows_received_value(self, make, expected):
        with self.assertRaisesRegex(ValueError, expected):
            make()


if __name__ == "__main__":
    absltest.main()
