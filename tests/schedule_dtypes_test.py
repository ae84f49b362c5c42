"""Schedules given steps of every type and size, under XLA and mixed float16.

Conventions (lr0 = 0.1, T = 300, 0-based updates) are in `schedule_cases`.
"""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized

from budgeted_keras import schedules
from tests.schedule_cases import CLASSES
from tests.schedule_cases import LR0
from tests.schedule_cases import NAMES
from tests.schedule_cases import TOTAL
from tests.schedule_cases import assert_close
from tests.schedule_cases import expected_rate
from tests.schedule_cases import rate_of
from tests.schedule_cases import step_forms


class StepDtypeTest(parameterized.TestCase):
    @parameterized.named_parameters(*[(name, name) for name in NAMES])
    def test_step_dtypes(self, name):
        schedule = CLASSES[name](LR0, TOTAL)
        for step in (0, 150, 200, 299):
            for form, value in step_forms(step):
                with self.subTest(step=step, form=form):
                    result = schedule(value)
                    self.assertEqual(
                        keras.backend.standardize_dtype(result.dtype),
                        "float32",
                    )
                    assert_close(
                        self,
                        rate_of(schedule, value),
                        expected_rate(name, step),
                    )

    @parameterized.named_parameters(*[(name, name) for name in NAMES])
    def test_large_steps(self, name):
        schedule = CLASSES[name](LR0, TOTAL)
        end = expected_rate(name, TOTAL)
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
                assert_close(self, rate_of(schedule, step), end)

    @parameterized.named_parameters(*[(name, name) for name in NAMES])
    def test_step_70000_inside_large_budget(self, name):
        # Above float16's largest finite value (65504), inside the budget.
        schedule = CLASSES[name](LR0, 100_000)
        expected = expected_rate(name, 70_000, total=100_000)
        for dtype in (tf.int32, tf.int64):
            with self.subTest(dtype=dtype.name):
                step = tf.constant(70_000, dtype)
                assert_close(self, rate_of(schedule, step), expected)


class CompiledTest(parameterized.TestCase):
    @parameterized.named_parameters(*[(name, name) for name in NAMES])
    def test_jit_compile(self, name):
        schedule = CLASSES[name](LR0, TOTAL, warmup_steps=10)

        @tf.function(jit_compile=True)
        def rate(step):
            return schedule(step)

        for step in (0, 5, 10, 100, 200, 299, 300, 2**40):
            with self.subTest(step=step):
                result = rate(tf.constant(step, tf.int64))
                self.assertEqual(result.dtype, tf.float32)
                assert_close(
                    self,
                    float(result),
                    expected_rate(name, step, warmup=10),
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
                assert_close(
                    self, float(rate(tf.constant(step, tf.int64))), expected
                )


class MixedPrecisionTest(parameterized.TestCase):
    def setUp(self):
        super().setUp()
        keras.mixed_precision.set_global_policy("mixed_float16")

    def tearDown(self):
        keras.mixed_precision.set_global_policy("float32")
        super().tearDown()

    @parameterized.named_parameters(*[(name, name) for name in NAMES])
    def test_float32_under_mixed_float16(self, name):
        try:
            self.assertEqual(
                keras.mixed_precision.global_policy().name, "mixed_float16"
            )
            schedule = CLASSES[name](LR0, TOTAL)
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
                        assert_close(
                            self,
                            float(result),
                            expected_rate(name, min(step, TOTAL)),
                        )
        finally:
            keras.mixed_precision.set_global_policy("float32")


if __name__ == "__main__":
    absltest.main()
