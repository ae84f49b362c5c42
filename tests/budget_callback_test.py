"""`BudgetCallback` and `budgeted_keras.fit` stop training at the budget.

Tiny models and reference rates come from `tiny_models`.
"""

import contextlib
import io
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
from tests.tiny_models import linear_rates
from tests.tiny_models import make_dataset
from tests.tiny_models import random_arrays
from tests.tiny_models import sgd_model
from tests.tiny_models import updates_of

Budget = budgeted_keras.Budget


class BudgetCallbackTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("epochs_from_budget", None), ("extra_epochs", 10)
    )
    def test_stops_mid_epoch(self, epochs):
        budget = Budget(steps=7)
        model = sgd_model(schedules.Linear(LR0, budget))
        recorder = Recorder()
        history = model.fit(
            make_dataset(4),
            epochs=epochs or budget.epochs_for(4),
            callbacks=[callbacks_lib.BudgetCallback(budget), recorder],
            verbose=0,
        )
        self.assertEqual(updates_of(model.optimizer), 7)
        self.assertLen(recorder.batch_logs, 7)
        self.assertEqual(history.epoch, [0, 1])
        # Per batch: the rate of update t and the budget used after it.
        np.testing.assert_allclose(
            recorder.logged("learning_rate"), linear_rates(7), rtol=1e-6
        )
        np.testing.assert_allclose(
            recorder.logged("budget_used"), [t / 7 for t in range(1, 8)]
        )
        # Per epoch: the last batch's values (updates 3 and 6).
        np.testing.assert_allclose(
            history.history["learning_rate"],
            [0.1 * (1 - 3 / 7), 0.1 * (1 - 6 / 7)],
            rtol=1e-6,
        )
        np.testing.assert_allclose(history.history["budget_used"], [4 / 7, 1.0])

    def test_fixed_learning_rate(self):
        model = sgd_model(0.05)
        recorder = Recorder()
        history = budgeted_keras.fit(
            model, make_dataset(4), 5, callbacks=[recorder], verbose=0
        )
        self.assertEqual(updates_of(model.optimizer), 5)
        np.testing.assert_allclose(recorder.logged("learning_rate"), [0.05] * 5)
        self.assertEqual(history.history["budget_used"][-1], 1.0)

    def test_fit_with_arrays_and_batch_size(self):
        x, y = random_arrays(10)
        model = sgd_model(schedules.Linear(LR0, 7))
        recorder = Recorder()
        # 10 examples in batches of 4: 3 batches per epoch (the last of 2).
        history = budgeted_keras.fit(
            model, x, 7, y=y, batch_size=4, callbacks=[recorder], verbose=0
        )
        self.assertEqual(updates_of(model.optimizer), 7)
        self.assertEqual(history.epoch, [0, 1, 2])
        np.testing.assert_allclose(
            recorder.logged("learning_rate"), linear_rates(7), rtol=1e-6
        )

    def test_fit_with_arrays_default_batch_size(self):
        # 64 examples, Keras' default batch of 32: 2 batches per epoch.
        x, y = random_arrays(64)
        model = sgd_model(schedules.Linear(LR0, 10))
        budgeted_keras.fit(model, x, 10, y=y, verbose=0)
        self.assertEqual(updates_of(model.optimizer), 10)

    def test_fit_with_arrays_and_validation_split(self):
        # 100 examples, 20 held out: 8 batches of 10 per epoch.
        x, y = random_arrays(100)
        model = sgd_model(schedules.Linear(LR0, 20))
        budgeted_keras.fit(
            model,
            x,
            20,
            y=y,
            batch_size=10,
            validation_split=0.2,
            verbose=0,
        )
        self.assertEqual(updates_of(model.optimizer), 20)

    def test_fit_rejects_too_few_epochs(self):
        # 5 updates at 4 batches per epoch need 2 epochs.
        model = sgd_model(0.1)
        with self.assertRaisesRegex(ValueError, "`epochs`"):
            budgeted_keras.fit(model, make_dataset(4), 5, epochs=1)

    def test_fit_with_spare_epochs_still_stops_at_budget(self):
        model = sgd_model(0.1)
        budgeted_keras.fit(model, make_dataset(4), 5, epochs=3, verbose=0)
        self.assertEqual(int(model.optimizer.iterations.numpy()), 5)

    @parameterized.named_parameters(
        # A fresh optimizer: the whole budget after the initial epoch.
        ("fresh", 0, 1),
        # 4 updates done, as after epoch 1 of 4 batches: 6 to go.
        ("resumed", 4, 1),
        ("resumed_late", 8, 2),
    )
    def test_fit_from_initial_epoch_reaches_the_budget(self, done, epoch):
        model = sgd_model(0.1)
        if done:
            model.fit(make_dataset(done), epochs=1, verbose=0)
        budgeted_keras.fit(
            model, make_dataset(4), 10, initial_epoch=epoch, verbose=0
        )
        self.assertEqual(updates_of(model.optimizer), 10)

    def test_steps_per_epoch_with_repeated_dataset(self):
        model = sgd_model(schedules.Linear(LR0, 9))
        recorder = Recorder()
        budgeted_keras.fit(
            model,
            make_dataset(4).repeat(),
            9,
            steps_per_epoch=4,
            callbacks=[recorder],
            verbose=0,
        )
        self.assertEqual(updates_of(model.optimizer), 9)
        self.assertLen(recorder.batch_logs, 9)

    @parameterized.named_parameters(
        # Keras would run 3 batches per epoch, not 5.
        ("dataset_shorter", lambda: (make_dataset(3),), {}, 5),
        # Epochs of 4 and 1 batches, alternately.
        ("dataset_not_dividing", lambda: (make_dataset(5),), {}, 4),
        # 10 examples in batches of 4: 3 batches.
        ("arrays", lambda: random_arrays(10), dict(batch_size=4), 5),
        # No batch_size: Keras takes ceil(10 / 6) = 2, so 5 batches.
        ("arrays_without_batch_size", lambda: random_arrays(10), {}, 6),
    )
    def test_steps_per_epoch_not_dividing_finite_data(
        self, make_data, kwargs, steps_per_epoch
    ):
        model = sgd_model(schedules.Linear(LR0, 10))
        x, *y = make_data()
        with self.assertRaisesRegex(
            ValueError, f"`steps_per_epoch`.*steps_per_epoch={steps_per_epoch}"
        ):
            budgeted_keras.fit(
                model,
                x,
                10,
                steps_per_epoch=steps_per_epoch,
                verbose=0,
                **(dict(y=y[0]) if y else {}),
                **kwargs,
            )
        self.assertEqual(updates_of(model.optimizer), 0)

    def test_steps_per_epoch_dividing_finite_data(self):
        # 8 batches make 2 epochs of 4; 12 updates take 3 epochs.
        model = sgd_model(schedules.Linear(LR0, 12))
        budgeted_keras.fit(
            model, make_dataset(8), 12, steps_per_epoch=4, verbose=0
        )
        self.assertEqual(updates_of(model.optimizer), 12)

    def test_steps_per_execution(self):
        budget = Budget(steps=8)
        model = sgd_model(schedules.Linear(LR0, budget))
        model.compile(
            optimizer=model.optimizer, loss="mse", steps_per_execution=2
        )
        budgeted_keras.fit(model, make_dataset(4), budget, verbose=0)
        self.assertEqual(updates_of(model.optimizer), 8)

    def test_steps_per_execution_not_dividing_budget(self):
        budget = Budget(steps=7)
        model = sgd_model(schedules.Linear(LR0, budget))
        model.compile(
            optimizer=model.optimizer, loss="mse", steps_per_execution=2
        )
        with self.assertRaisesRegex(ValueError, "`budget`"):
            budgeted_keras.fit(model, make_dataset(4), budget, verbose=0)
        self.assertEqual(updates_of(model.optimizer), 0)

    def test_steps_per_execution_not_dividing_epochs(self):
        # 7 batches per epoch in chunks of 4 would overshoot a budget of 12.
        budget = Budget(steps=12)
        model = sgd_model(schedules.Linear(LR0, budget))
        model.compile(
            optimizer=model.optimizer, loss="mse", steps_per_execution=4
        )
        with self.assertRaisesRegex(ValueError, "epochs of 7 batches"):
            budgeted_keras.fit(model, make_dataset(7), budget, verbose=0)
        self.assertEqual(updates_of(model.optimizer), 0)

    def test_budget_already_used(self):
        model = sgd_model(schedules.Linear(LR0, 4))
        callback = callbacks_lib.BudgetCallback(4)
        model.fit(make_dataset(4), epochs=3, callbacks=[callback], verbose=0)
        self.assertEqual(callback.stopped_at, 4)
        with self.assertRaisesRegex(ValueError, "`budget`"):
            model.fit(
                make_dataset(4), epochs=1, callbacks=[callback], verbose=0
            )
        self.assertEqual(updates_of(model.optimizer), 4)

    def test_verbose(self):
        model = sgd_model(schedules.Linear(LR0, 3))
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            model.fit(
                make_dataset(4),
                epochs=1,
                callbacks=[callbacks_lib.BudgetCallback(3, verbose=1)],
                verbose=0,
            )
        self.assertIn("3 updates", output.getvalue())
        self.assertIn("budget reached at update 3", output.getvalue())

    def test_quiet_by_default(self):
        model = sgd_model(schedules.Linear(LR0, 3))
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            budgeted_keras.fit(model, make_dataset(4), 3, verbose=0)
        self.assertEqual(output.getvalue(), "")

    def test_csv_logger_records_budget(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        path = os.path.join(directory, "log.csv")
        model = sgd_model(schedules.Linear(LR0, 6))
        budgeted_keras.fit(
            model,
            make_dataset(4),
            6,
            callbacks=[keras.callbacks.CSVLogger(path)],
            verbose=0,
        )
        with open(path) as f:
            header = f.readline().strip().split(",")
        self.assertIn("learning_rate", header)
        self.assertIn("budget_used", header)

    def test_config_round_trip_of_budget(self):
        callback = callbacks_lib.BudgetCallback(
            Budget(steps=6, gradient_accumulation_steps=2)
        )
        self.assertEqual(
            Budget.from_config(callback.budget.get_config()), callback.budget
        )


class _StopAtFirstBatch(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.model.stop_training = True


class ShortRunWarningTest(parameterized.TestCase):
    """The warning for a run that ends before its budget names the cause."""

    @parameterized.named_parameters(
        # 3 batches per epoch instead of 5: 2 epochs give 6 updates.
        (
            "data_ran_out",
            dict(steps_per_epoch=5, epochs=2),
            [],
            r"after 6 of the budget's 10 updates: the data ran out \(epoch 0 "
            "had 3 of its steps_per_epoch=5",
        ),
        (
            "too_few_epochs",
            dict(epochs=1),
            [],
            "after 3 of the budget's 10 updates: `fit` ran out of epochs",
        ),
        (
            "stopped_by_callback",
            dict(epochs=2),
            [_StopAtFirstBatch()],
            "after 1 of the budget's 10 updates: another callback stopped",
        ),
    )
    def test_names_cause(self, fit_kwargs, callbacks, expected):
        model = sgd_model(LR0)
        with self.assertWarnsRegex(UserWarning, expected):
            model.fit(
                make_dataset(3),
                callbacks=[callbacks_lib.BudgetCallback(10)] + callbacks,
                shuffle=False,
                verbose=0,
                **fit_kwargs,
            )


class BudgetMismatchTest(parameterized.TestCase):
    @parameterized.named_parameters(
        # The optimizer accumulates 2 batches, the budget counts 1.
        (
            "optimizer_accumulates",
            lambda: sgd_model(LR0, gradient_accumulation_steps=2),
            Budget(steps=4),
        ),
        # The budget counts 2 batches per update, the optimizer 1.
        (
            "budget_accumulates",
            lambda: sgd_model(LR0),
            Budget(steps=4, gradient_accumulation_steps=2),
        ),
        (
            "accumulation_3_vs_2",
            lambda: sgd_model(LR0, gradient_accumulation_steps=3),
            Budget(steps=4, gradient_accumulation_steps=2),
        ),
        # The schedule ends at 10 updates, training at 8.
        (
            "schedule_budget",
            lambda: sgd_model(schedules.Linear(LR0, 10)),
            Budget(steps=8),
        ),
        (
            "rescaled_budget",
            lambda: sgd_model(
                schedules.Rescaled(schedules.Linear(LR0, 100), 100, 10)
            ),
            Budget(steps=8),
        ),
        (
            "schedule_accumulation",
            lambda: sgd_model(
                schedules.Linear(
                    LR0, Budget(steps=8, gradient_accumulation_steps=2)
                ),
                gradient_accumulation_steps=2,
            ),
            Budget(steps=4, gradient_accumulation_steps=2),
        ),
    )
    def test_raises_at_start(self, make_model, budget):
        model = make_model()
        recorder = Recorder()
        with self.assertRaisesRegex(ValueError, "`budget`"):
            model.fit(
                make_dataset(4),
                epochs=2,
                callbacks=[callbacks_lib.BudgetCallback(budget), recorder],
                verbose=0,
            )
        self.assertEmpty(recorder.batch_logs)
        self.assertEqual(updates_of(model.optimizer), 0)


if __name__ == "__main__":
    absltest.main()
