"""Saving, loading and resuming training keeps the schedule's rates.

Tiny models and reference rates come from `tiny_models`.
"""

import os
import shutil
import tempfile

import keras
import numpy as np
from absl.testing import absltest
from absl.testing import parameterized

import budgeted_keras
from budgeted_keras import callbacks as callbacks_lib
from budgeted_keras import schedules
from tests.tiny_models import LR0
from tests.tiny_models import Recorder
from tests.tiny_models import current_rate
from tests.tiny_models import linear_rates
from tests.tiny_models import make_dataset
from tests.tiny_models import sgd_model
from tests.tiny_models import updates_of

Budget = budgeted_keras.Budget


def _saving_cases():
    """Schedule factories for the save/load round trip, budget of 12."""
    return (
        ("constant", lambda: schedules.Constant(LR0, 12)),
        ("step", lambda: schedules.Step(LR0, 12)),
        ("exponential", lambda: schedules.Exponential(LR0, 12)),
        ("polynomial", lambda: schedules.Polynomial(LR0, 12)),
        ("linear", lambda: schedules.Linear(LR0, 12)),
        ("cosine", lambda: schedules.Cosine(LR0, 12)),
        ("hyperbolic_tangent", lambda: schedules.HyperbolicTangent(LR0, 12)),
        ("inverse_time", lambda: schedules.InverseTime(LR0, 12)),
        ("linear_warmup", lambda: schedules.Linear(LR0, 12, warmup_steps=3)),
        (
            "rescaled",
            lambda: schedules.Rescaled(
                keras.optimizers.schedules.PiecewiseConstantDecay(
                    [40, 80], [LR0, 0.01, 0.001]
                ),
                full_budget=120,
                budget=12,
            ),
        ),
    )


class SaveLoadTest(parameterized.TestCase):
    def setUp(self):
        super().setUp()
        self.directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.directory, ignore_errors=True)

    @parameterized.named_parameters(*_saving_cases())
    def test_resume_matches_uninterrupted_run(self, make_schedule):
        budget = Budget(steps=12)
        batches = make_dataset(4)  # b0 b1 b2 b3 per epoch.

        uninterrupted = sgd_model(make_schedule(), momentum=0.9)
        recorder = Recorder()
        budgeted_keras.fit(
            uninterrupted, batches, budget, callbacks=[recorder], verbose=0
        )
        self.assertEqual(updates_of(uninterrupted.optimizer), 12)
        self.assertLen(recorder.batch_logs, 12)

        # The same stream of batches, cut after 5 updates (mid-epoch):
        # b0 b1 b2 b3 b0 | b1 b2 b3 b0 b1 b2 b3.
        first = sgd_model(make_schedule(), momentum=0.9)
        first_recorder = Recorder()
        first.fit(
            batches.repeat().take(5),
            epochs=1,
            callbacks=[callbacks_lib.BudgetCallback(budget), first_recorder],
            verbose=0,
        )
        self.assertEqual(updates_of(first.optimizer), 5)
        path = os.path.join(self.directory, "model.keras")
        first.save(path)

        restored = keras.models.load_model(path)
        self.assertEqual(updates_of(restored.optimizer), 5)
        self.assertEqual(
            current_rate(restored.optimizer), current_rate(first.optimizer)
        )
        self.assertEqual(
            restored.optimizer.get_config()["learning_rate"],
            first.optimizer.get_config()["learning_rate"],
        )
        second_recorder = Recorder()
        rotated = batches.skip(1).concatenate(batches.take(1))
        budgeted_keras.fit(
            restored, rotated, budget, callbacks=[second_recorder], verbose=0
        )
        self.assertEqual(updates_of(restored.optimizer), 12)
        resumed_rates = first_recorder.logged(
            "learning_rate"
        ) + second_recorder.logged("learning_rate")
        self.assertEqual(resumed_rates, recorder.logged("learning_rate"))
        np.testing.assert_allclose(
            restored.layers[0].kernel.numpy(),
            uninterrupted.layers[0].kernel.numpy(),
            rtol=1e-5,
            atol=1e-6,
        )

    @parameterized.named_parameters(
        # Epoch-end backups restore update 4; backups every 2 batches, 6.
        ("every_epoch", "epoch", 4),
        ("every_two_batches", 2, 6),
    )
    def test_backup_and_restore_stops_at_budget(self, save_freq, restored):
        backup = os.path.join(self.directory, "backup")

        class _Crash(Exception):
            pass

        class _CrashAtUpdate6(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if updates_of(self.model.optimizer) == 6:
                    raise _Crash()

        model = sgd_model(schedules.Linear(LR0, 10))
        with self.assertRaises(_Crash):
            budgeted_keras.fit(
                model,
                make_dataset(4),
                10,
                callbacks=[
                    keras.callbacks.BackupAndRestore(backup, save_freq),
                    _CrashAtUpdate6(),
                ],
                verbose=0,
            )
        model = sgd_model(schedules.Linear(LR0, 10))
        recorder = Recorder()
        budgeted_keras.fit(
            model,
            make_dataset(4),
            10,
            callbacks=[
                keras.callbacks.BackupAndRestore(backup, save_freq),
                recorder,
            ],
            verbose=0,
        )
        self.assertEqual(updates_of(model.optimizer), 10)
        np.testing.assert_allclose(
            recorder.logged("learning_rate"),
            linear_rates(10)[restored:],
            rtol=1e-6,
        )

    def test_restored_rates_are_the_schedule(self):
        model = sgd_model(schedules.Linear(LR0, 300))
        model.fit(make_dataset(10), epochs=3, verbose=0)
        path = os.path.join(self.directory, "linear.keras")
        model.save(path)
        restored = keras.models.load_model(path)
        self.assertEqual(updates_of(restored.optimizer), 30)
        np.testing.assert_allclose(
            current_rate(restored.optimizer), 0.09, rtol=1e-6
        )


if __name__ == "__main__":
    absltest.main()
