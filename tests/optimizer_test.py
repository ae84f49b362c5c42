"""Schedules and callbacks inside real Keras training (tiny models, CPU).

Each test trains a one-layer Dense model on a few random examples for at most
a few hundred updates. Expected learning rates are the paper's reference
values or the shapes' formulas written out again with plain `math`.
"""

import contextlib
import io
import itertools
import math
import os
import shutil
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized

import budgeted_keras
from budgeted_keras import callbacks as callbacks_lib
from budgeted_keras import schedules

Budget = budgeted_keras.Budget

LR0 = 0.1

# f(p) for the shapes used below, with their default parameters.
_FACTORS = {
    "linear": lambda p: 1.0 - p,
    "cosine": lambda p: 0.5 * (1.0 + math.cos(math.pi * p)),
    "polynomial": lambda p: (1.0 - p) ** 0.9,
    "exponential": lambda p: math.exp(-10.0 * p),
    "hyperbolic_tangent": lambda p: 0.5 * (1.0 - math.tanh(-6.0 + 9.0 * p)),
    "step": lambda p: 1.0 if 3 * p < 1 else (0.1 if 3 * p < 2 else 0.01),
}


def _rate(name, update, total, lr0=LR0):
    """Reference rate of 0-based applied update `update` of `total`."""
    return lr0 * _FACTORS[name](min(update, total) / total)


def _linear_rates(total, lr0=LR0):
    return [lr0 * (1 - t / total) for t in range(total)]


def _arrays(num_examples, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_examples, 3)).astype("float32")
    y = rng.normal(size=(num_examples, 1)).astype("float32")
    return x, y


def _dataset(num_batches, batch_size=2, seed=0):
    """A batched dataset of `num_batches` batches, in a fixed order."""
    x, y = _arrays(num_batches * batch_size, seed)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def _model(learning_rate, momentum=0.0, **optimizer_kwargs):
    """A compiled one-layer model with identical initial weights each time."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    optimizer = keras.optimizers.SGD(
        learning_rate, momentum=momentum, **optimizer_kwargs
    )
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _current_rate(optimizer):
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _updates(optimizer):
    return int(keras.ops.convert_to_numpy(optimizer.iterations))


class _Recorder(keras.callbacks.Callback):
    """Keeps every batch's logs and the kernel after every batch."""

    def __init__(self):
        super().__init__()
        self.batch_logs = []
        self.kernels = []

    def on_train_batch_end(self, batch, logs=None):
        self.batch_logs.append(
            {k: float(np.asarray(v)) for k, v in (logs or {}).items()}
        )
        self.kernels.append(
            keras.ops.convert_to_numpy(self.model.layers[0].kernel).copy()
        )

    def logged(self, key):
        return [logs[key] for logs in self.batch_logs]


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
        self.assertEqual(_updates(optimizer), updates)
        # The paper's values, to the digits given there.
        np.testing.assert_allclose(
            _current_rate(optimizer), expected, rtol=0, atol=5e-6
        )
        # With a unit gradient, the variable moved by the sum of the rates
        # the updates actually used.
        used = sum(_rate(name, t, 300) for t in range(updates))
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
        model = _model(schedules.Linear(LR0, 300))
        recorder = _Recorder()
        model.fit(_dataset(6), epochs=5, callbacks=[recorder], verbose=0)
        self.assertEqual(_updates(model.optimizer), 30)
        self.assertLen(recorder.batch_logs, 30)
        np.testing.assert_allclose(
            _current_rate(model.optimizer), 0.09, rtol=1e-6
        )


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
        batches = _dataset(4)  # b0 b1 b2 b3 per epoch.

        uninterrupted = _model(make_schedule(), momentum=0.9)
        recorder = _Recorder()
        budgeted_keras.fit(
            uninterrupted, batches, budget, callbacks=[recorder], verbose=0
        )
        self.assertEqual(_updates(uninterrupted.optimizer), 12)
        self.assertLen(recorder.batch_logs, 12)

        # The same stream of batches, cut after 5 updates (mid-epoch):
        # b0 b1 b2 b3 b0 | b1 b2 b3 b0 b1 b2 b3.
        first = _model(make_schedule(), momentum=0.9)
        first_recorder = _Recorder()
        first.fit(
            batches.repeat().take(5),
            epochs=1,
            callbacks=[callbacks_lib.BudgetCallback(budget), first_recorder],
            verbose=0,
        )
        self.assertEqual(_updates(first.optimizer), 5)
        path = os.path.join(self.directory, "model.keras")
        first.save(path)

        restored = keras.models.load_model(path)
        self.assertEqual(_updates(restored.optimizer), 5)
        self.assertEqual(
            _current_rate(restored.optimizer), _current_rate(first.optimizer)
        )
        self.assertEqual(
            restored.optimizer.get_config()["learning_rate"],
            first.optimizer.get_config()["learning_rate"],
        )
        second_recorder = _Recorder()
        rotated = batches.skip(1).concatenate(batches.take(1))
        budgeted_keras.fit(
            restored, rotated, budget, callbacks=[second_recorder], verbose=0
        )
        self.assertEqual(_updates(restored.optimizer), 12)
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
                if _updates(self.model.optimizer) == 6:
                    raise _Crash()

        model = _model(schedules.Linear(LR0, 10))
        with self.assertRaises(_Crash):
            budgeted_keras.fit(
                model,
                _dataset(4),
                10,
                callbacks=[
                    keras.callbacks.BackupAndRestore(backup, save_freq),
                    _CrashAtUpdate6(),
                ],
                verbose=0,
            )
        model = _model(schedules.Linear(LR0, 10))
        recorder = _Recorder()
        budgeted_keras.fit(
            model,
            _dataset(4),
            10,
            callbacks=[
                keras.callbacks.BackupAndRestore(backup, save_freq),
                recorder,
            ],
            verbose=0,
        )
        self.assertEqual(_updates(model.optimizer), 10)
        np.testing.assert_allclose(
            recorder.logged("learning_rate"),
            _linear_rates(10)[restored:],
            rtol=1e-6,
        )

    def test_restored_rates_are_the_schedule(self):
        model = _model(schedules.Linear(LR0, 300))
        model.fit(_dataset(10), epochs=3, verbose=0)
        path = os.path.join(self.directory, "linear.keras")
        model.save(path)
        restored = keras.models.load_model(path)
        self.assertEqual(_updates(restored.optimizer), 30)
        np.testing.assert_allclose(
            _current_rate(restored.optimizer), 0.09, rtol=1e-6
        )


class BudgetCallbackTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("epochs_from_budget", None), ("extra_epochs", 10)
    )
    def test_stops_mid_epoch(self, epochs):
        budget = Budget(steps=7)
        model = _model(schedules.Linear(LR0, budget))
        recorder = _Recorder()
        history = model.fit(
            _dataset(4),
            epochs=epochs or budget.epochs_for(4),
            callbacks=[callbacks_lib.BudgetCallback(budget), recorder],
            verbose=0,
        )
        self.assertEqual(_updates(model.optimizer), 7)
        self.assertLen(recorder.batch_logs, 7)
        self.assertEqual(history.epoch, [0, 1])
        # Per batch: the rate of update t and the budget used after it.
        np.testing.assert_allclose(
            recorder.logged("learning_rate"), _linear_rates(7), rtol=1e-6
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
        model = _model(0.05)
        recorder = _Recorder()
        history = budgeted_keras.fit(
            model, _dataset(4), 5, callbacks=[recorder], verbose=0
        )
        self.assertEqual(_updates(model.optimizer), 5)
        np.testing.assert_allclose(recorder.logged("learning_rate"), [0.05] * 5)
        self.assertEqual(history.history["budget_used"][-1], 1.0)

    def test_fit_with_arrays_and_batch_size(self):
        x, y = _arrays(10)
        model = _model(schedules.Linear(LR0, 7))
        recorder = _Recorder()
        # 10 examples in batches of 4: 3 batches per epoch (the last of 2).
        history = budgeted_keras.fit(
            model, x, 7, y=y, batch_size=4, callbacks=[recorder], verbose=0
        )
        self.assertEqual(_updates(model.optimizer), 7)
        self.assertEqual(history.epoch, [0, 1, 2])
        np.testing.assert_allclose(
            recorder.logged("learning_rate"), _linear_rates(7), rtol=1e-6
        )

    def test_fit_with_arrays_default_batch_size(self):
        # 64 examples, Keras' default batch of 32: 2 batches per epoch.
        x, y = _arrays(64)
        model = _model(schedules.Linear(LR0, 10))
        budgeted_keras.fit(model, x, 10, y=y, verbose=0)
        self.assertEqual(_updates(model.optimizer), 10)

    def test_fit_with_arrays_and_validation_split(self):
        # 100 examples, 20 held out: 8 batches of 10 per epoch.
        x, y = _arrays(100)
        model = _model(schedules.Linear(LR0, 20))
        budgeted_keras.fit(
            model,
            x,
            20,
            y=y,
            batch_size=10,
            validation_split=0.2,
            verbose=0,
        )
        self.assertEqual(_updates(model.optimizer), 20)

    def test_fit_rejects_too_few_epochs(self):
        # 5 updates at 4 batches per epoch need 2 epochs.
        model = _model(0.1)
        with self.assertRaisesRegex(ValueError, "`epochs`"):
            budgeted_keras.fit(model, _dataset(4), 5, epochs=1)

    def test_fit_with_spare_epochs_still_stops_at_budget(self):
        model = _model(0.1)
        budgeted_keras.fit(model, _dataset(4), 5, epochs=3, verbose=0)
        self.assertEqual(int(model.optimizer.iterations.numpy()), 5)

    def test_steps_per_epoch_with_repeated_dataset(self):
        model = _model(schedules.Linear(LR0, 9))
        recorder = _Recorder()
        budgeted_keras.fit(
            model,
            _dataset(4).repeat(),
            9,
            steps_per_epoch=4,
            callbacks=[recorder],
            verbose=0,
        )
        self.assertEqual(_updates(model.optimizer), 9)
        self.assertLen(recorder.batch_logs, 9)

    def test_steps_per_execution(self):
        budget = Budget(steps=8)
        model = _model(schedules.Linear(LR0, budget))
        model.compile(
            optimizer=model.optimizer, loss="mse", steps_per_execution=2
        )
        budgeted_keras.fit(model, _dataset(4), budget, verbose=0)
        self.assertEqual(_updates(model.optimizer), 8)

    def test_steps_per_execution_not_dividing_budget(self):
        budget = Budget(steps=7)
        model = _model(schedules.Linear(LR0, budget))
        model.compile(
            optimizer=model.optimizer, loss="mse", steps_per_execution=2
        )
        with self.assertRaisesRegex(ValueError, "`budget`"):
            budgeted_keras.fit(model, _dataset(4), budget, verbose=0)
        self.assertEqual(_updates(model.optimizer), 0)

    def test_budget_already_used(self):
        model = _model(schedules.Linear(LR0, 4))
        callback = callbacks_lib.BudgetCallback(4)
        model.fit(_dataset(4), epochs=3, callbacks=[callback], verbose=0)
        self.assertEqual(callback.stopped_at, 4)
        with self.assertRaisesRegex(ValueError, "`budget`"):
            model.fit(_dataset(4), epochs=1, callbacks=[callback], verbose=0)
        self.assertEqual(_updates(model.optimizer), 4)

    def test_verbose(self):
        model = _model(schedules.Linear(LR0, 3))
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            model.fit(
                _dataset(4),
                epochs=1,
                callbacks=[callbacks_lib.BudgetCallback(3, verbose=1)],
                verbose=0,
            )
        self.assertIn("3 updates", output.getvalue())
        self.assertIn("budget reached at update 3", output.getvalue())

    def test_quiet_by_default(self):
        model = _model(schedules.Linear(LR0, 3))
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            budgeted_keras.fit(model, _dataset(4), 3, verbose=0)
        self.assertEqual(output.getvalue(), "")

    def test_csv_logger_records_budget(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory, ignore_errors=True)
        path = os.path.join(directory, "log.csv")
        model = _model(schedules.Linear(LR0, 6))
        budgeted_keras.fit(
            model,
            _dataset(4),
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


class MirroredStrategyTest(parameterized.TestCase):
    def setUp(self):
        super().setUp()
        if len(tf.config.list_logical_devices("CPU")) < 2:
            self.skipTest("needs 2 logical CPUs (set up in conftest.py)")

    def _run(self, strategy):
        with strategy.scope() if strategy else contextlib.nullcontext():
            model = _model(schedules.Cosine(LR0, 6))
        recorder = _Recorder()
        # Global batch of 4 examples, split 2 + 2 over the replicas.
        budgeted_keras.fit(
            model,
            _dataset(4, batch_size=4),
            6,
            callbacks=[recorder],
            verbose=0,
        )
        return model, recorder

    def test_same_rates_as_one_device(self):
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        self.assertEqual(strategy.num_replicas_in_sync, 2)
        mirrored, mirrored_recorder = self._run(strategy)
        single, single_recorder = self._run(None)
        self.assertEqual(_updates(mirrored.optimizer), 6)
        self.assertEqual(_updates(single.optimizer), 6)
        expected = [_rate("cosine", t, 6) for t in range(6)]
        np.testing.assert_allclose(
            mirrored_recorder.logged("learning_rate"), expected, rtol=1e-6
        )
        self.assertEqual(
            mirrored_recorder.logged("learning_rate"),
            single_recorder.logged("learning_rate"),
        )
        self.assertEqual(
            mirrored_recorder.logged("budget_used"),
            single_recorder.logged("budget_used"),
        )
        np.testing.assert_allclose(
            mirrored.layers[0].kernel.numpy(),
            single.layers[0].kernel.numpy(),
            rtol=1e-5,
            atol=1e-6,
        )


def _rate_setting_callbacks():
    return (
        (
            "reduce_lr_on_plateau",
            lambda: keras.callbacks.ReduceLROnPlateau(monitor="loss"),
        ),
        (
            "learning_rate_scheduler",
            lambda: keras.callbacks.LearningRateScheduler(lambda e, lr: lr),
        ),
    )


class CheckCallbacksTest(parameterized.TestCase):
    @parameterized.named_parameters(*_rate_setting_callbacks())
    def test_rejected_with_schedule(self, make_callback):
        callback = make_callback()
        optimizers = (
            ("sgd", keras.optimizers.SGD(schedules.Linear(LR0, 10))),
            (
                "loss_scale",
                keras.optimizers.LossScaleOptimizer(
                    keras.optimizers.SGD(schedules.Linear(LR0, 10))
                ),
            ),
        )
        for name, optimizer in optimizers:
            with self.subTest(optimizer=name):
                with self.assertRaisesRegex(
                    ValueError, f"`callbacks`.*{type(callback).__name__}"
                ):
                    callbacks_lib.check_callbacks(
                        [keras.callbacks.History(), callback], optimizer
                    )

    @parameterized.named_parameters(*_rate_setting_callbacks())
    def test_fit_fails_before_training(self, make_callback):
        model = _model(schedules.Linear(LR0, 10))
        recorder = _Recorder()
        with self.assertRaisesRegex(ValueError, "`callbacks`"):
            budgeted_keras.fit(
                model,
                _dataset(4),
                10,
                callbacks=[recorder, make_callback()],
                verbose=0,
            )
        self.assertEqual(_updates(model.optimizer), 0)
        self.assertEmpty(recorder.batch_logs)

    @parameterized.named_parameters(*_rate_setting_callbacks())
    def test_accepted_with_float_rate(self, make_callback):
        optimizer = keras.optimizers.SGD(LR0)
        callbacks_lib.check_callbacks([make_callback()], optimizer)
        model = _model(LR0)
        budgeted_keras.fit(
            model, _dataset(4), 6, callbacks=[make_callback()], verbose=0
        )
        self.assertEqual(_updates(model.optimizer), 6)

    def test_other_callbacks_accepted(self):
        optimizer = keras.optimizers.SGD(schedules.Linear(LR0, 10))
        callbacks_lib.check_callbacks(None, optimizer)
        callbacks_lib.check_callbacks([], optimizer)
        callbacks_lib.check_callbacks(
            [keras.callbacks.EarlyStopping(), keras.callbacks.History()],
            optimizer,
        )


class BudgetMismatchTest(parameterized.TestCase):
    @parameterized.named_parameters(
        # The optimizer accumulates 2 batches, the budget counts 1.
        (
            "optimizer_accumulates",
            lambda: _model(LR0, gradient_accumulation_steps=2),
            Budget(steps=4),
        ),
        # The budget counts 2 batches per update, the optimizer 1.
        (
            "budget_accumulates",
            lambda: _model(LR0),
            Budget(steps=4, gradient_accumulation_steps=2),
        ),
        (
            "accumulation_3_vs_2",
            lambda: _model(LR0, gradient_accumulation_steps=3),
            Budget(steps=4, gradient_accumulation_steps=2),
        ),
        # The schedule ends at 10 updates, training at 8.
        (
            "schedule_budget",
            lambda: _model(schedules.Linear(LR0, 10)),
            Budget(steps=8),
        ),
        (
            "rescaled_budget",
            lambda: _model(
                schedules.Rescaled(schedules.Linear(LR0, 100), 100, 10)
            ),
            Budget(steps=8),
        ),
        (
            "schedule_accumulation",
            lambda: _model(
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
        recorder = _Recorder()
        with self.assertRaisesRegex(ValueError, "`budget`"):
            model.fit(
                _dataset(4),
                epochs=2,
                callbacks=[callbacks_lib.BudgetCallback(budget), recorder],
                verbose=0,
            )
        self.assertEmpty(recorder.batch_logs)
        self.assertEqual(_updates(model.optimizer), 0)


def _with_bad_batch(num_batches, bad_batch, value, batch_size=2):
    """A dataset whose batch `bad_batch` has inputs equal to `value`."""
    x, y = _arrays(num_batches * batch_size)
    x[bad_batch * batch_size : (bad_batch + 1) * batch_size] = value
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


class FailOnNonFiniteLossTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("nan", float("nan")), ("inf", float("inf"))
    )
    def test_names_update_range(self, value):
        model = _model(0.01)
        # Batches 0-2 are finite (3 updates); batch 3 applies update 4.
        with self.assertRaisesRegex(
            callbacks_lib.NonFiniteLossError,
            "between update 3 and update 4",
        ):
            model.fit(
                _with_bad_batch(6, 3, value),
                epochs=1,
                callbacks=[callbacks_lib.FailOnNonFiniteLoss()],
                verbose=0,
            )
        self.assertEqual(_updates(model.optimizer), 4)
        self.assertTrue(
            issubclass(callbacks_lib.NonFiniteLossError, RuntimeError)
        )

    def test_range_counts_earlier_training(self):
        model = _model(0.01)
        callback = callbacks_lib.FailOnNonFiniteLoss()
        model.fit(_dataset(4), epochs=1, callbacks=[callback], verbose=0)
        with self.assertRaisesRegex(
            callbacks_lib.NonFiniteLossError, "between update 4 and update 5"
        ):
            model.fit(
                _with_bad_batch(4, 0, float("nan")),
                epochs=1,
                callbacks=[callback],
                verbose=0,
            )

    def test_with_budgeted_fit(self):
        model = _model(schedules.Linear(0.01, 8))
        with self.assertRaisesRegex(
            callbacks_lib.NonFiniteLossError, "between update 1 and update 2"
        ):
            budgeted_keras.fit(
                model,
                _with_bad_batch(4, 1, float("nan")),
                8,
                callbacks=[callbacks_lib.FailOnNonFiniteLoss()],
                verbose=0,
            )

    def test_finite_run_is_quiet(self):
        model = _model(0.01)
        history = model.fit(
            _dataset(4),
            epochs=2,
            callbacks=[callbacks_lib.FailOnNonFiniteLoss()],
            verbose=0,
        )
        self.assertLen(history.epoch, 2)
        self.assertEqual(_updates(model.optimizer), 8)


class GradientAccumulationTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("budgeted_fit", True), ("model_fit", False)
    )
    def test_stops_after_twice_the_updates_in_batches(self, use_fit):
        updates = 5
        budget = Budget(steps=updates, gradient_accumulation_steps=2)
        model = _model(
            schedules.Linear(LR0, budget), gradient_accumulation_steps=2
        )
        initial = keras.ops.convert_to_numpy(model.layers[0].kernel).copy()
        recorder = _Recorder()
        if use_fit:
            budgeted_keras.fit(
                model, _dataset(4), budget, callbacks=[recorder], verbose=0
            )
        else:
            model.fit(
                _dataset(4),
                epochs=budget.epochs_for(4),
                callbacks=[callbacks_lib.BudgetCallback(budget), recorder],
                verbose=0,
            )
        self.assertEqual(budget.batches, 10)
        self.assertLen(recorder.batch_logs, 10)
        self.assertEqual(_updates(model.optimizer), updates)
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
            model = _model(schedules.Linear(LR0, updates))
            self.assertIsInstance(
                model.optimizer, keras.optimizers.LossScaleOptimizer
            )
            recorder = _Recorder()
            budgeted_keras.fit(
                model,
                _dataset(num_batches),
                updates,
                callbacks=[recorder],
                verbose=0,
            )
        finally:
            keras.mixed_precision.set_global_policy("float32")
        return model, recorder

    def test_rates_follow_applied_updates(self):
        model, recorder = self._fit(6, 4)
        self.assertEqual(_updates(model.optimizer), 6)
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
        self.assertEqual(_updates(model.optimizer), 4)


if __name__ == "__main__":
    absltest.main()
