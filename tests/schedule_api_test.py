"""The schedule factory, `Rescaled`, and serialization round trips.

Conventions (lr0 = 0.1, T = 300, 0-based updates) are in `schedule_cases`.
"""

import json
import math

import keras
import tensorflow as tf
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
from tests.schedule_cases import piecewise
from tests.schedule_cases import rate_of

Budget = budgeted_keras.Budget


class FactoryTest(parameterized.TestCase):
    def test_names(self):
        self.assertEqual(
            schedules.names(),
            [
                "constant",
                "step",
                "exponential",
                "polynomial",
                "linear",
                "cosine",
                "hyperbolic_tangent",
                "inverse_time",
            ],
        )

    def test_every_canonical_name(self):
        for name in schedules.names():
            with self.subTest(name=name):
                schedule = schedules.get(
                    name, initial_learning_rate=LR0, budget=TOTAL
                )
                self.assertIs(type(schedule), CLASSES[name])
                self.assertEqual(schedules.canonical_name(name), name)
                assert_close(
                    self, rate_of(schedule, 150), expected_rate(name, 150)
                )

    @parameterized.named_parameters(
        ("htd", "htd", schedules.HyperbolicTangent),
        ("tanh", "tanh", schedules.HyperbolicTangent),
        ("poly", "poly", schedules.Polynomial),
        ("exp", "exp", schedules.Exponential),
        ("inv", "inv", schedules.InverseTime),
        ("one_over_t", "1/t", schedules.InverseTime),
        ("upper_linear", "LINEAR", schedules.Linear),
        ("upper_htd", "HTD", schedules.HyperbolicTangent),
        ("mixed_case", "Cosine", schedules.Cosine),
        ("upper_canonical", "INVERSE_TIME", schedules.InverseTime),
        ("upper_alias", "Poly", schedules.Polynomial),
    )
    def test_aliases(self, name, cls):
        schedule = schedules.get(name, initial_learning_rate=LR0, budget=TOTAL)
        self.assertIs(type(schedule), cls)

    def test_passes_shape_arguments(self):
        schedule = schedules.get(
            "poly", initial_learning_rate=LR0, budget=TOTAL, power=2.0
        )
        self.assertEqual(schedule.power, 2.0)
        assert_close(self, rate_of(schedule, 150), 0.1 * 0.25)

    def test_unknown_argument(self):
        with self.assertRaises(TypeError):
            schedules.get(
                "linear", initial_learning_rate=LR0, budget=TOTAL, power=2.0
            )

    @parameterized.named_parameters(
        ("unknown", "triangular"),
        ("empty", ""),
        ("typo", "lineer"),
        ("none", None),
        ("number", 3),
    )
    def test_unknown_name(self, name):
        with self.assertRaisesRegex(ValueError, "`name`"):
            schedules.get(name, initial_learning_rate=LR0, budget=TOTAL)
        with self.assertRaisesRegex(ValueError, "`name`"):
            schedules.canonical_name(name)


class RescaledTest(parameterized.TestCase):
    @parameterized.named_parameters(
        # Full run of 9000 updates with drops after 3000 and 6000
        # (PiecewiseConstantDecay keeps a value up to and including its
        # boundary), squeezed into 900: the drops move to 300 and 600.
        ("start", 0, 0.1),
        ("first_phase", 150, 0.1),
        ("first_boundary", 300, 0.1),
        ("after_first_boundary", 301, 0.01),
        ("second_phase", 450, 0.01),
        ("second_boundary", 600, 0.01),
        ("after_second_boundary", 601, 0.001),
        ("budget", 900, 0.001),
        ("past_budget", 5000, 0.001),
        ("far_past_budget", 2**40, 0.001),
    )
    def test_piecewise_milestones_move(self, step, expected):
        schedule = schedules.Rescaled(piecewise(), full_budget=9000, budget=900)
        assert_close(self, rate_of(schedule, step), expected)
        assert_close(
            self, rate_of(schedule, tf.constant(step, tf.int64)), expected
        )

    @parameterized.named_parameters(
        ("budget_objects", Budget(steps=9000), Budget(steps=90)),
        ("ints", 9000, 90),
        ("fraction", Budget(steps=9000), Budget(steps=9000).fraction(0.01)),
    )
    def test_one_percent(self, full_budget, budget):
        schedule = schedules.Rescaled(piecewise(), full_budget, budget)
        for step, expected in ((30, 0.1), (31, 0.01), (61, 0.001), (90, 0.001)):
            with self.subTest(step=step):
                assert_close(self, rate_of(schedule, step), expected)

    def test_keras_cosine_decay(self):
        full = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=1000)
        schedule = schedules.Rescaled(full, full_budget=1000, budget=100)
        for step in (0, 25, 50, 99, 100, 1000):
            with self.subTest(step=step):
                p = min(step, 100) / 100
                assert_close(
                    self,
                    rate_of(schedule, step),
                    0.05 * (1 + math.cos(math.pi * p)),
                )

    def test_gradient_accumulation(self):
        budget = Budget(steps=900, gradient_accumulation_steps=2)
        schedule = schedules.Rescaled(piecewise(), 9000, budget)
        # Raw batch 601 -> update 300; raw batch 602 -> update 301.
        assert_close(self, rate_of(schedule, 601), 0.1)
        assert_close(self, rate_of(schedule, 602), 0.01)
        assert_close(self, rate_of(schedule, 1203), 0.001)

    def test_output_is_float32(self):
        schedule = schedules.Rescaled(piecewise(), 9000, 900)
        result = schedule(tf.constant(5, tf.int64))
        self.assertEqual(result.dtype, tf.float32)


def _schedule_cases():
    """(name, schedule) pairs covering every public schedule class."""
    cases = [(name, CLASSES[name](LR0, TOTAL)) for name in NAMES]
    cases += [
        (
            "step_custom",
            schedules.Step(LR0, TOTAL, milestones=(0.5, 0.75), factor=0.2),
        ),
        ("exponential_rate", schedules.Exponential(LR0, TOTAL, rate=3.0)),
        ("polynomial_power", schedules.Polynomial(LR0, TOTAL, power=2.0)),
        (
            "htd_bounds",
            schedules.HyperbolicTangent(LR0, TOTAL, lower=-2.0, upper=4.0),
        ),
        ("inverse_time_rate", schedules.InverseTime(LR0, TOTAL, rate=7.0)),
        ("linear_warmup", schedules.Linear(LR0, TOTAL, warmup_steps=20)),
        (
            "cosine_warmup_fraction",
            schedules.Cosine(LR0, TOTAL, warmup_fraction=0.1, name="cos_warm"),
        ),
        (
            "linear_accumulation",
            schedules.Linear(
                LR0, Budget(steps=TOTAL, gradient_accumulation_steps=2)
            ),
        ),
        ("rescaled_piecewise", schedules.Rescaled(piecewise(), 9000, 900)),
        (
            "rescaled_budget_aware",
            schedules.Rescaled(
                schedules.Step(LR0, 3000),
                3000,
                Budget(steps=TOTAL, gradient_accumulation_steps=2),
            ),
        ),
    ]
    return cases


_ROUND_TRIP_STEPS = (0, 19, 20, 100, 150, 299, 300, 601, 3000)


class SerializationTest(parameterized.TestCase):
    def _assert_same(self, restored, schedule):
        self.assertIs(type(restored), type(schedule))
        self.assertEqual(restored.get_config(), schedule.get_config())
        for step in _ROUND_TRIP_STEPS:
            with self.subTest(step=step):
                self.assertEqual(
                    rate_of(restored, step), rate_of(schedule, step)
                )

    @parameterized.named_parameters(*_schedule_cases())
    def test_config_round_trip(self, schedule):
        config = json.loads(json.dumps(schedule.get_config()))
        self._assert_same(type(schedule).from_config(config), schedule)

    @parameterized.named_parameters(*_schedule_cases())
    def test_keras_object_round_trip(self, schedule):
        serialized = keras.saving.serialize_keras_object(schedule)
        serialized = json.loads(json.dumps(serialized))
        restored = keras.saving.deserialize_keras_object(serialized)
        self._assert_same(restored, schedule)

    @parameterized.named_parameters(*_schedule_cases())
    def test_keras_schedules_round_trip(self, schedule):
        restored = keras.optimizers.schedules.deserialize(
            keras.optimizers.schedules.serialize(schedule)
        )
        self._assert_same(restored, schedule)

    def test_config_keeps_resolved_warmup(self):
        schedule = schedules.Cosine(LR0, TOTAL, warmup_fraction=0.1)
        config = schedule.get_config()
        self.assertEqual(config["warmup_steps"], 30)
        self.assertEqual(
            config["budget"], {"steps": 300, "gradient_accumulation_steps": 1}
        )


if __name__ == "__main__":
    absltest.main()
