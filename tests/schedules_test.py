"""Tests for `budgeted_keras.schedules`: budget-aware learning rates.

Expected values come from the paper's reference numbers or from the shapes'
formulas written out again here with plain `math` (never from the library's
own code), with `lr0 = 0.1` and a budget of `T = 300` updates unless a case
says otherwise. The step convention is 0-based: update `t` uses `p = t / T`.
"""

import itertools
import json
import math

import keras
import numpy as np
import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized

import budgeted_keras
from budgeted_keras import schedules

Budget = budgeted_keras.Budget

LR0 = 0.1
TOTAL = 300
_NAN = float("nan")
_INF = float("inf")

# The factor f(p) of each shape with its default parameters, from the paper's
# table, for p in [0, 1]. Step decay is checked against hand-made tables.
_FACTORS = {
    "constant": lambda p: 1.0,
    "exponential": lambda p: math.exp(-10.0 * p),
    "polynomial": lambda p: (1.0 - p) ** 0.9,
    "linear": lambda p: 1.0 - p,
    "cosine": lambda p: 0.5 * (1.0 + math.cos(math.pi * p)),
    "hyperbolic_tangent": lambda p: 0.5 * (1.0 - math.tanh(-6.0 + 9.0 * p)),
    "inverse_time": lambda p: 1.0 / (1.0 + 1000.0 * p),
}


def _step_factor(p):
    """Default step decay: x0.1 from p >= 1/3 and again from p >= 2/3."""
    return 1.0 if 3 * p < 1 else (0.1 if 3 * p < 2 else 0.01)


_FACTORS["step"] = _step_factor

_CLASSES = {
    "constant": schedules.Constant,
    "step": schedules.Step,
    "exponential": schedules.Exponential,
    "polynomial": schedules.Polynomial,
    "linear": schedules.Linear,
    "cosine": schedules.Cosine,
    "hyperbolic_tangent": schedules.HyperbolicTangent,
    "inverse_time": schedules.InverseTime,
}
_NAMES = tuple(_CLASSES)


def _expected(name, step, total=TOTAL, lr0=LR0, warmup=0):
    """The reference rate at 0-based update `step`, written out in math."""
    if step < warmup:
        return lr0 * step / warmup
    decay = total - warmup
    p = min(step - warmup, decay) / decay
    return lr0 * _FACTORS[name](p)


def _value(schedule, step):
    return float(keras.ops.convert_to_numpy(schedule(step)))


def _assert_close(testcase, actual, expected, rtol=1e-5, atol=2e-8):
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
    testcase.assertTrue(np.all(np.isfinite(actual)))


_STEPS = (0, 1, 30, 75, 99, 100, 101, 150, 180, 199, 200, 225, 299, 300)
_SMOOTH_CASES = [
    (f"{name}_{step}", name, step)
    for name in _NAMES
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
        _assert_close(
            self, _value(_CLASSES[name](LR0, TOTAL), step), expected, 0, 5e-6
        )

    @parameterized.named_parameters(*_SMOOTH_CASES)
    def test_smooth_shapes(self, name, step):
        _assert_close(
            self,
            _value(_CLASSES[name](LR0, TOTAL), step),
            _expected(name, step),
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
        _assert_close(self, _value(schedules.Step(LR0, TOTAL), step), expected)

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
        _assert_close(self, _value(schedule, step), expected)

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
                _assert_close(self, _value(schedule, step), expected)

    @parameterized.named_parameters(
        ("epochs", Budget(epochs=2, steps_per_epoch=50), 25, 0.075),
        ("examples", Budget(examples=1000, batch_size=10), 50, 0.05),
        ("int", 100, 99, 0.001),
    )
    def test_budget_forms(self, budget, step, expected):
        _assert_close(
            self, _value(schedules.Linear(LR0, budget), step), expected
        )

    def test_zero_base_rate(self):
        for name in _NAMES:
            with self.subTest(name=name):
                self.assertEqual(_value(_CLASSES[name](0.0, TOTAL), 10), 0.0)


class PastBudgetTest(parameterized.TestCase):
    @parameterized.named_parameters(*[(name, name) for name in _NAMES])
    def test_holds_end_value(self, name):
        schedule = _CLASSES[name](LR0, TOTAL)
        end = _value(schedule, TOTAL)
        _assert_close(self, end, _expected(name, TOTAL))
        for step in (301, 450, 3000, 10**6):
            with self.subTest(step=step):
                value = _value(schedule, step)
                self.assertEqual(value, end)
                self.assertGreaterEqual(value, 0.0)
                self.assertTrue(math.isfinite(value))

    @parameterized.named_parameters(*[(name, name) for name in _NAMES])
    def test_never_negative_or_increasing(self, name):
        schedule = _CLASSES[name](LR0, TOTAL)
        values = [_value(schedule, step) for step in range(0, 320, 7)]
        self.assertTrue(all(v >= 0 and math.isfinite(v) for v in values))
        self.assertTrue(all(b <= a for a, b in itertools.pairwise(values)))

    @parameterized.named_parameters(*[(name, name) for name in _NAMES])
    def test_negative_step_is_start(self, name):
        schedule = _CLASSES[name](LR0, TOTAL)
        self.assertEqual(_value(schedule, -5), _value(schedule, 0))


def _step_forms(step):
    """`step` as the types Keras and users pass to a schedule."""
    return (
        ("python_int", step),
        ("numpy_int32", np.int32(step)),
        ("numpy_int64", np.int64(step)),
        ("tensor_int32", tf.constant(step, tf.int32)),
        ("tensor_int64", tf.constant(step, tf.int64)),
        ("variable_int64", tf.Variable(step, dtype=tf.int64)),
        ("tensor_float32", tf.constant(float(step), tf.float32)),
    )


class StepDtypeTest(parameterized.TestCase):
    @parameterized.named_parameters(*[(name, name) for name in _NAMES])
    def test_step_dtypes(self, name):
        schedule = _CLASSES[name](LR0, TOTAL)
        for step in (0, 150, 200, 299):
            for form, value in _step_forms(step):
                with self.subTest(step=step, form=form):
                    result = schedule(value)
                    self.assertEqual(
                        keras.backend.standardize_dtype(result.dtype),
                        "float32",
                    )
                    _assert_close(
                        self, _value(schedule, value), _expected(name, step)
                    )

    @parameterized.named_parameters(*[(name, name) for name in _NAMES])
    def test_large_steps(self, name):
        schedule = _CLASSES[name](LR0, TOTAL)
        end = _expected(name, TOTAL)
        large = (
            ("int32_70000", tf.constant(70_000, tf.int32)),
            ("int64_70000", tf.constant(70_000, tf.int64)),
            ("int32_max", tf.constant(2**31 - 1, tf.int32)),
            ("int64_2_40", tf.constant(2**40, tf.int64)),
            ("numpy_int64_2_40", np.int64(2**40)),
            ("python_2_40", 2**40),
        )
        for form, step in large:
            with self.subTest(form=form):
                _assert_close(self, _value(schedule, step), end)

    @parameterized.named_parameters(*[(name, name) for name in _NAMES])
    def test_step_70000_inside_large_budget(self, name):
        # Above float16's largest finite value (65504), inside the budget.
        schedule = _CLASSES[name](LR0, 100_000)
        expected = _expected(name, 70_000, total=100_000)
        for dtype in (tf.int32, tf.int64):
            with self.subTest(dtype=dtype.name):
                step = tf.constant(70_000, dtype)
                _assert_close(self, _value(schedule, step), expected)


class CompiledTest(parameterized.TestCase):
    @parameterized.named_parameters(*[(name, name) for name in _NAMES])
    def test_jit_compile(self, name):
        schedule = _CLASSES[name](LR0, TOTAL, warmup_steps=10)

        @tf.function(jit_compile=True)
        def rate(step):
            return schedule(step)

        for step in (0, 5, 10, 100, 200, 299, 300, 2**40):
            with self.subTest(step=step):
                result = rate(tf.constant(step, tf.int64))
                self.assertEqual(result.dtype, tf.float32)
                _assert_close(
                    self,
                    float(result),
                    _expected(name, step, warmup=10),
                )

    def test_jit_compile_rescaled(self):
        full = keras.optimizers.schedules.PiecewiseConstantDecay(
            [3000, 6000], [0.1, 0.01, 0.001]
        )
        schedule = schedules.Rescaled(full, full_budget=9000, budget=900)

        @tf.function(jit_compile=True)
        def rate(step):
            return schedule(step)

        for step, expected in ((0, 0.1), (301, 0.01), (601, 0.001)):
            with self.subTest(step=step):
                _assert_close(
                    self, float(rate(tf.constant(step, tf.int64))), expected
                )


class MixedPrecisionTest(parameterized.TestCase):
    def setUp(self):
        super().setUp()
        keras.mixed_precision.set_global_policy("mixed_float16")

    def tearDown(self):
        keras.mixed_precision.set_global_policy("float32")
        super().tearDown()

    @parameterized.named_parameters(*[(name, name) for name in _NAMES])
    def test_float32_under_mixed_float16(self, name):
        try:
            self.assertEqual(
                keras.mixed_precision.global_policy().name, "mixed_float16"
            )
            schedule = _CLASSES[name](LR0, TOTAL)
            for step in (0, 150, 200, 299, 300, 70_000):
                for form, value in (
                    ("python_int", step),
                    ("tensor_int64", tf.constant(step, tf.int64)),
                ):
                    with self.subTest(step=step, form=form):
                        result = schedule(value)
                        self.assertEqual(
                            keras.backend.standardize_dtype(result.dtype),
                            "float32",
                        )
                        _assert_close(
                            self,
                            float(result),
                            _expected(name, min(step, TOTAL)),
                        )
        finally:
            keras.mixed_precision.set_global_policy("float32")


class WarmupTest(parameterized.TestCase):
    @parameterized.named_parameters(
        # W = 30 warmup updates, then linear decay over D = 270.
        ("start", 0, 0.0),
        ("inside", 15, 0.05),
        ("last_warmup_update", 29, 0.1 * 29 / 30),
        ("end_of_warmup", 30, 0.1),
        ("half_decay", 165, 0.05),  # 30 + 135
        ("last_update", 299, 0.1 / 270),
        ("budget", 300, 0.0),
        ("past_budget", 3000, 0.0),
    )
    def test_linear_warmup(self, step, expected):
        for kwargs in (dict(warmup_steps=30), dict(warmup_fraction=0.1)):
            with self.subTest(**kwargs):
                schedule = schedules.Linear(LR0, TOTAL, **kwargs)
                self.assertEqual(schedule.warmup_steps, 30)
                self.assertEqual(schedule.decay_steps, 270)
                _assert_close(self, _value(schedule, step), expected)

    @parameterized.named_parameters(
        # Drops at 30 + 270/3 = 120 and 30 + 2 * 270/3 = 210.
        ("step_119", schedules.Step, 119, 0.1),
        ("step_120", schedules.Step, 120, 0.01),
        ("step_209", schedules.Step, 209, 0.01),
        ("step_210", schedules.Step, 210, 0.001),
        ("cosine_half", schedules.Cosine, 165, 0.05),
        ("cosine_end", schedules.Cosine, 300, 0.0),
        ("htd_two_thirds", schedules.HyperbolicTangent, 210, 0.05),
    )
    def test_shapes_after_warmup(self, cls, step, expected):
        schedule = cls(LR0, TOTAL, warmup_steps=30)
        _assert_close(self, _value(schedule, step), expected)

    @parameterized.named_parameters(*[(name, name) for name in _NAMES])
    def test_warmup_properties(self, name):
        warmup = 30
        schedule = _CLASSES[name](LR0, TOTAL, warmup_steps=warmup)
        with self.subTest("zero_at_start"):
            self.assertEqual(_value(schedule, 0), 0.0)
        with self.subTest("ramp"):
            for step in (1, 10, 29):
                _assert_close(self, _value(schedule, step), LR0 * step / warmup)
        with self.subTest("continuous_at_end_of_warmup"):
            at_end = _value(schedule, warmup)
            # The ramp's limit at t = W is lr0; the decay starts at lr0 f(0).
            _assert_close(self, at_end, LR0, rtol=1e-4)
            self.assertLessEqual(
                abs(at_end - _value(schedule, warmup - 1)),
                LR0 / warmup + 1e-6,
            )
        with self.subTest("decay"):
            for step in (31, 120, 165, 210, 299):
                _assert_close(
                    self,
                    _value(schedule, step),
                    _expected(name, step, warmup=warmup),
                )
        with self.subTest("end_exactly_at_budget"):
            end = LR0 * _FACTORS[name](1.0)
            _assert_close(self, _value(schedule, TOTAL), end)
            _assert_close(self, _value(schedule, 10 * TOTAL), end)
            if name not in ("constant", "step"):
                self.assertGreater(_value(schedule, TOTAL - 1), end)

    @parameterized.named_parameters(
        ("half_rounds_up", 10, 0.05, 1),  # 0.5 update -> 1
        ("below_half", 10, 0.04, 0),  # 0.4 update -> 0
        ("quarter", 300, 0.25, 75),
        ("zero", 300, 0.0, 0),
    )
    def test_warmup_fraction_rounding(self, total, fraction, expected):
        schedule = schedules.Linear(LR0, total, warmup_fraction=fraction)
        self.assertEqual(schedule.warmup_steps, expected)

    def test_no_warmup_starts_at_lr0(self):
        for name in _NAMES:
            with self.subTest(name=name):
                schedule = _CLASSES[name](LR0, TOTAL, warmup_steps=0)
                _assert_close(self, _value(schedule, 0), _expected(name, 0))

    @parameterized.named_parameters(
        ("steps_equal", dict(warmup_steps=300), "warmup_steps"),
        ("steps_longer", dict(warmup_steps=301), "warmup_steps"),
        # round(0.999 * 300) = 300 updates.
        (
            "fraction_rounds_to_budget",
            dict(warmup_fraction=0.999),
            "warmup_fraction",
        ),
    )
    def test_warmup_not_shorter_than_budget(self, kwargs, argument):
        for name in _NAMES:
            with self.subTest(name=name):
                with self.assertRaisesRegex(ValueError, f"`{argument}`"):
                    _CLASSES[name](LR0, TOTAL, **kwargs)


class GradientAccumulationTest(parameterized.TestCase):
    @parameterized.named_parameters(
        # Raw batch step s belongs to applied update floor(s / 2).
        ("batch_0", 0, 0.1),
        ("batch_1", 1, 0.1),
        ("batch_2", 2, 0.1 * (1 - 1 / 300)),
        ("batch_3", 3, 0.1 * (1 - 1 / 300)),
        ("batch_300", 300, 0.05),
        ("batch_301", 301, 0.05),
        ("batch_599", 599, 0.1 * (1 - 299 / 300)),
        ("batch_600", 600, 0.0),
        ("batch_6000", 6000, 0.0),
    )
    def test_linear_advances_every_second_batch(self, step, expected):
        budget = Budget(steps=300, gradient_accumulation_steps=2)
        schedule = schedules.Linear(LR0, budget)
        for form, value in _step_forms(step):
            with self.subTest(form=form):
                _assert_close(self, _value(schedule, value), expected)

    @parameterized.named_parameters(
        # Three batches per update: drops at updates 100 and 200.
        ("batch_299", 299, 0.1),
        ("batch_300", 300, 0.01),
        ("batch_599", 599, 0.01),
        ("batch_600", 600, 0.001),
    )
    def test_step_with_three_batches_per_update(self, step, expected):
        budget = Budget(steps=300, gradient_accumulation_steps=3)
        schedule = schedules.Step(LR0, budget)
        _assert_close(
            self, _value(schedule, tf.constant(step, tf.int64)), expected
        )

    @parameterized.named_parameters(*[(name, name) for name in _NAMES])
    def test_pairs_of_batches_share_a_rate(self, name):
        budget = Budget(steps=TOTAL, gradient_accumulation_steps=2)
        schedule = _CLASSES[name](LR0, budget)
        for update in (0, 50, 100, 199, 299):
            with self.subTest(update=update):
                expected = _expected(name, update)
                _assert_close(self, _value(schedule, 2 * update), expected)
                _assert_close(self, _value(schedule, 2 * update + 1), expected)

    def test_with_warmup(self):
        budget = Budget(steps=100, gradient_accumulation_steps=2)
        schedule = schedules.Linear(1.0, budget, warmup_steps=10)
        # Raw batch 11 -> update 5 of a 10-update warmup.
        _assert_close(self, _value(schedule, 11), 0.5)
        # Raw batch 100 -> update 50 -> 40 of 90 decay updates.
        _assert_close(self, _value(schedule, 100), 1.0 - 40 / 90)


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
                self.assertIs(type(schedule), _CLASSES[name])
                self.assertEqual(schedules.canonical_name(name), name)
                _assert_close(self, _value(schedule, 150), _expected(name, 150))

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
        _assert_close(self, _value(schedule, 150), 0.1 * 0.25)

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


def _piecewise():
    return keras.optimizers.schedules.PiecewiseConstantDecay(
        [3000, 6000], [0.1, 0.01, 0.001]
    )


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
        schedule = schedules.Rescaled(
            _piecewise(), full_budget=9000, budget=900
        )
        _assert_close(self, _value(schedule, step), expected)
        _assert_close(
            self, _value(schedule, tf.constant(step, tf.int64)), expected
        )

    @parameterized.named_parameters(
        ("budget_objects", Budget(steps=9000), Budget(steps=90)),
        ("ints", 9000, 90),
        ("fraction", Budget(steps=9000), Budget(steps=9000).fraction(0.01)),
    )
    def test_one_percent(self, full_budget, budget):
        schedule = schedules.Rescaled(_piecewise(), full_budget, budget)
        for step, expected in ((30, 0.1), (31, 0.01), (61, 0.001), (90, 0.001)):
            with self.subTest(step=step):
                _assert_close(self, _value(schedule, step), expected)

    def test_keras_cosine_decay(self):
        full = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=1000)
        schedule = schedules.Rescaled(full, full_budget=1000, budget=100)
        for step in (0, 25, 50, 99, 100, 1000):
            with self.subTest(step=step):
                p = min(step, 100) / 100
                _assert_close(
                    self,
                    _value(schedule, step),
                    0.05 * (1 + math.cos(math.pi * p)),
                )

    def test_gradient_accumulation(self):
        budget = Budget(steps=900, gradient_accumulation_steps=2)
        schedule = schedules.Rescaled(_piecewise(), 9000, budget)
        # Raw batch 601 -> update 300; raw batch 602 -> update 301.
        _assert_close(self, _value(schedule, 601), 0.1)
        _assert_close(self, _value(schedule, 602), 0.01)
        _assert_close(self, _value(schedule, 1203), 0.001)

    def test_output_is_float32(self):
        schedule = schedules.Rescaled(_piecewise(), 9000, 900)
        result = schedule(tf.constant(5, tf.int64))
        self.assertEqual(result.dtype, tf.float32)


def _schedule_cases():
    """(name, schedule) pairs covering every public schedule class."""
    cases = [(name, _CLASSES[name](LR0, TOTAL)) for name in _NAMES]
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
        ("rescaled_piecewise", schedules.Rescaled(_piecewise(), 9000, 900)),
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
                self.assertEqual(_value(restored, step), _value(schedule, step))

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
        arguments = dict(schedule=_piecewise(), full_budget=9000, budget=900)
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
