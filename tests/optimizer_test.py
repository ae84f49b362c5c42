"""Schedules read through real optimizers, with accumulation and float16.

Tiny models and reference rates come from `tiny_models`.
"""

import itertools

import keras
import numpy as np
import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized

import budgeted_keras
from budgeted_keras import callbacks as callbacks_lib
from budgeted_keras import schedules
from tests.tiny_models import LR0
from tests.tiny_models import Recorder
from tests.tiny_models import current_rate
from tests.tiny_models import make_dataset
from tests.tiny_models import reference_rate
from tests.tiny_models import sgd_model
from tests.tiny_models import updates_of

Budget = budgeted_keras.Budget


class ReadThroughTest(parameterized.TestCase):
    """`optimizer.learning_rate` after N real updates."""

    @parameterized.named_parameters(
        ("linear_150", schedules.Linear, 150, 0.05, "linear"),
        ("cosine_100", schedules.Cosine, 100, 0.075, "cosine"),
        (
            "htd_200",
            schedules.HyperbolicTangent,
            200,
            0.05,
            "hyperbolic_tangent",
        ),
        (
            "htd_180",
            schedules.HyperbolicTangent,
            180,
            0.07685,
            "hyperbolic_tangent",
        ),
        ("poly_150", schedules.Polynomial, 150, 0.05359, "polynomial"),
        ("exponential_30", schedules.Exponential, 30, 0.03679, "exponential"),
        ("step_99", schedules.Step, 99, 0.1, "step"),
        ("step_100", schedules.Step, 100, 0.01, "step"),
        ("step_200", schedules.Step, 200, 0.001, "step"),
    )
    def test_after_updates(self, cls, updates, expected, name):
        optimizer = keras.optimizers.SGD(cls(LR0, 300))
        variable = keras.Variable(np.zeros((1,), "float32"))
        gradient = tf.ones((1,))
        for _ in range(updates):
            optimizer.apply([gradient], [variable])
        self.assertEqual(updates_of(optimizer), updates)
        # The paper's values, to the digits given there.
        np.testing.assert_allclose(
            current_rate(optimizer), expected, rtol=0, atol=5e-6
        )
        # With a unit gradient, the variable moved by the sum of the rates
        # the updates actually used.
        used = sum(reference_rate(name, t, 300) for t in range(updates))
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(variable), [-used], rtol=1e-5
        )

    def test_linear_sum_by_hand(self):
        # sum_{t < 150} 0.1 (1 - t / 300) = 0.1 (150 - 149 * 150 / 600).
        optimizer = keras.optimizers.SGD(schedules.Linear(LR0, 300))
        variable = keras.Variable(np.zeros((1,), "float32"))
        for _ in range(150):
            optimizer.apply([tf.ones((1,))], [variable])
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(variable), [-11.275], rtol=1e-5
        )

    def test_after_model_fit(self):
        model = sgd_model(schedules.Linear(LR0, 300))
        recorder = Recorder()
        model.fit(make_dataset(6), epochs=5, callbacks=[recorder], verbose=0)
        self.assertEqual(updates_of(model.optimizer), 30)
        self.assertLen(recorder.batch_logs, 30)
        np.testing.assert_allclose(
            current_rate(model.optimizer), 0.09, rtol=1e-6
        )


class GradientAccumulationTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("budgeted_fit", True), ("model_fit", False)
    )
    def test_stops_after_twice_the_updates_in_batches(self, use_fit):
        updates = 5
        budget = Budget(steps=updates, gradient_accumulation_steps=2)
        model = sgd_model(
            schedules.Linear(LR0, budget), gradient_accumulation_steps=2
        )
        initial = keras.ops.convert_to_numpy(model.layers[0].kernel).copy()
        recorder = Recorder()
        if use_fit:
            budgeted_keras.fit(
                model, make_dataset(4), budget, callbacks=[recorder], verbose=0
            )
        else:
            model.fit(
                make_dataset(4),
                epochs=budget.epochs_for(4),
                callbacks=[callbacks_lib.BudgetCallback(budget), recorder],
                verbose=0,
            )
        self.assertEqual(budget.batches, 10)
        self.assertLen(recorder.batch_logs, 10)
        self.assertEqual(updates_of(model.optimizer), updates)
        # Batches 2k and 2k + 1 belong to update k.
        expected = [LR0 * (1 - (b // 2) / updates) for b in range(10)]
        np.testing.assert_allclose(
            recorder.logged("learning_rate"), expected, rtol=1e-6
        )
        np.testing.assert_allclose(
            recorder.logged("budget_used"),
            [((b + 1) // 2) / updates for b in range(10)],
        )
        # The weights change only on the second batch of each pair.
        kernels = [initial] + recorder.kernels
        changed = [
            not np.array_equal(before, after)
            for before, after in itertools.pairwise(kernels)
        ]
        self.assertEqual(changed, [False, True] * updates)


class MixedPrecisionTrainingTest(parameterized.TestCase):
    """Under "mixed_float16" Keras wraps SGD in a `LossScaleOptimizer`."""

    def tearDown(self):
        keras.mixed_precision.set_global_policy("float32")
        super().tearDown()

    def _fit(self, updates, num_batches):
        keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            model = sgd_model(schedules.Linear(LR0, updates))
            self.assertIsInstance(
                model.optimizer, keras.optimizers.LossScaleOptimizer
            )
            recorder = Recorder()
            budgeted_keras.fit(
                model,
                make_dataset(num_batches),
                updates,
                callbacks=[recorder],
                verbose=0,
            )
        finally:
            keras.mixed_precision.set_global_policy("float32")
        return model, recorder

    def test_rates_follow_applied_updates(self):
        model, recorder = self._fit(6, 4)
        self.assertEqual(updates_of(model.optimizer), 6)
        # A batch whose scaled gradients overflow applies no update (and
        # does not advance the schedule); each batch uses the rate of the
        # updates applied before it.
        used = [round(u * 6) for u in recorder.logged("budget_used")]
        self.assertEqual(used[-1], 6)
        expected = [LR0 * (1 - u / 6) for u in [0] + used[:-1]]
        np.testing.assert_allclose(
            recorder.logged("learning_rate"), expected, rtol=1e-6
        )

    def test_skipped_update_still_reaches_budget(self):
        # One epoch of 4 batches for 4 updates; the initial loss scale
        # (2**15) overflows on one of these batches.
        model, recorder = self._fit(4, 4)
        self.assertEqual(recorder.logged("budget_used")[-1], 1.0)
        self.assertEqual(updates_of(model.optimizer), 4)


if __name__ == "__main__":
    absltest.main()
