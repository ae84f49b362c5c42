"""Callbacks that guard training: `check_callbacks`, `FailOnNonFiniteLoss`.

Tiny models come from `tiny_models`.
"""

import keras
import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized

import budgeted_keras
from budgeted_keras import callbacks as callbacks_lib
from budgeted_keras import schedules
from tests.tiny_models import LR0
from tests.tiny_models import Recorder
from tests.tiny_models import make_dataset
from tests.tiny_models import random_arrays
from tests.tiny_models import sgd_model
from tests.tiny_models import updates_of


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
    def test_rejected_inside_a_callback_list(self, make_callback):
        optimizer = keras.optimizers.SGD(schedules.Linear(LR0, 10))
        history = keras.callbacks.History()
        for name, callbacks in (
            ("callback_list", keras.callbacks.CallbackList([make_callback()])),
            (
                "nested",
                [history, keras.callbacks.CallbackList([make_callback()])],
            ),
        ):
            with self.subTest(callbacks=name):
                with self.assertRaisesRegex(ValueError, "`callbacks`"):
                    callbacks_lib.check_callbacks(callbacks, optimizer)
        checked = callbacks_lib.check_callbacks(
            keras.callbacks.CallbackList([history]), optimizer
        )
        self.assertEqual(checked, [history])

    @parameterized.named_parameters(*_rate_setting_callbacks())
    def test_fit_fails_before_training(self, make_callback):
        model = sgd_model(schedules.Linear(LR0, 10))
        recorder = Recorder()
        with self.assertRaisesRegex(ValueError, "`callbacks`"):
            budgeted_keras.fit(
                model,
                make_dataset(4),
                10,
                callbacks=[recorder, make_callback()],
                verbose=0,
            )
        self.assertEqual(updates_of(model.optimizer), 0)
        self.assertEmpty(recorder.batch_logs)

    @parameterized.named_parameters(*_rate_setting_callbacks())
    def test_accepted_with_float_rate(self, make_callback):
        optimizer = keras.optimizers.SGD(LR0)
        callbacks_lib.check_callbacks([make_callback()], optimizer)
        model = sgd_model(LR0)
        budgeted_keras.fit(
            model, make_dataset(4), 6, callbacks=[make_callback()], verbose=0
        )
        self.assertEqual(updates_of(model.optimizer), 6)

    def test_other_callbacks_accepted(self):
        optimizer = keras.optimizers.SGD(schedules.Linear(LR0, 10))
        self.assertEqual(callbacks_lib.check_callbacks(None, optimizer), [])
        self.assertEqual(callbacks_lib.check_callbacks([], optimizer), [])
        callbacks = (keras.callbacks.EarlyStopping(), keras.callbacks.History())
        self.assertEqual(
            callbacks_lib.check_callbacks(callbacks, optimizer),
            list(callbacks),
        )

    @parameterized.named_parameters(
        ("single_callback", lambda: keras.callbacks.History(), "callbacks"),
        ("string", lambda: "History", "callbacks"),
        ("function_in_list", lambda: [print], "callbacks"),
        ("generator", lambda: iter([keras.callbacks.History()]), "callbacks"),
    )
    def test_bad_callbacks(self, make_callbacks, argument):
        for rate in (LR0, schedules.Linear(LR0, 10)):
            with self.subTest(rate=type(rate).__name__):
                with self.assertRaisesRegex(ValueError, f"`{argument}`"):
                    callbacks_lib.check_callbacks(
                        make_callbacks(), keras.optimizers.SGD(rate)
                    )

    @parameterized.named_parameters(
        ("none", lambda: None),
        ("string", lambda: "sgd"),
        ("model", lambda: sgd_model(LR0)),
        ("schedule", lambda: schedules.Linear(LR0, 10)),
    )
    def test_bad_optimizer(self, make_optimizer):
        for callbacks in ([], [keras.callbacks.ReduceLROnPlateau()]):
            with self.subTest(callbacks=len(callbacks)):
                with self.assertRaisesRegex(
                    ValueError, "`optimizer`.*Received: optimizer="
                ):
                    callbacks_lib.check_callbacks(callbacks, make_optimizer())


def _uncompiled_model():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])


class FitArgumentsTest(parameterized.TestCase):
    """`budgeted_keras.fit` rejects bad arguments before any update."""

    @parameterized.named_parameters(
        ("uncompiled", _uncompiled_model, {}, "`model` must be a compiled"),
        ("not_a_model", lambda: "model", {}, "`model` must be a compiled"),
        (
            "single_callback",
            lambda: sgd_model(LR0),
            dict(callbacks=keras.callbacks.History()),
            r"`callbacks`.*callbacks=\[History",
        ),
        (
            "single_callback_with_schedule",
            lambda: sgd_model(schedules.Linear(LR0, 4)),
            dict(callbacks=keras.callbacks.ReduceLROnPlateau()),
            "`callbacks` must be a list",
        ),
    )
    def test_rejected_before_training(self, make_model, kwargs, expected):
        model = make_model()
        with self.assertRaisesRegex(ValueError, expected):
            budgeted_keras.fit(model, make_dataset(4), 4, verbose=0, **kwargs)
        if isinstance(model, keras.Model) and model.compiled:
            self.assertEqual(updates_of(model.optimizer), 0)


def _with_bad_batch(num_batches, bad_batch, value, batch_size=2):
    """A dataset whose batch `bad_batch` has inputs equal to `value`."""
    x, y = random_arrays(num_batches * batch_size)
    x[bad_batch * batch_size : (bad_batch + 1) * batch_size] = value
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


class FailOnNonFiniteLossTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("nan", float("nan")), ("inf", float("inf"))
    )
    def test_names_update_range(self, value):
        model = sgd_model(0.01)
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
        self.assertEqual(updates_of(model.optimizer), 4)
        self.assertTrue(
            issubclass(callbacks_lib.NonFiniteLossError, RuntimeError)
        )

    def test_range_counts_earlier_training(self):
        model = sgd_model(0.01)
        callback = callbacks_lib.FailOnNonFiniteLoss()
        model.fit(make_dataset(4), epochs=1, callbacks=[callback], verbose=0)
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
        model = sgd_model(schedules.Linear(0.01, 8))
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
        model = sgd_model(0.01)
        history = model.fit(
            make_dataset(4),
            epochs=2,
            callbacks=[callbacks_lib.FailOnNonFiniteLoss()],
            verbose=0,
        )
        self.assertLen(history.epoch, 2)
        self.assertEqual(updates_of(model.optimizer), 8)


if __name__ == "__main__":
    absltest.main()
