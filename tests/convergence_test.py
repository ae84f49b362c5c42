"""Tests of the full-data gradient norm and the monitor that records it."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized

import budgeted_keras as bk
from budgeted_keras import convergence

N, FEATURES, CLASSES = 50, 4, 3


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    y = rng.integers(0, CLASSES, size=N).astype("int32")
    return x, y


def _softmax_regression(l2=0.0):
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(
                CLASSES,
                kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
            ),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.1),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _bn_model():
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(8),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(CLASSES),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _expected_norm(model, x, y, l2):
    """Closed form: d/dW of mean cross-entropy is X^T (softmax - onehot) / N,
    plus 2 * l2 * W for the L2 penalty l2 * sum(W^2)."""
    w, b = (v.astype("float64") for v in model.get_weights())
    logits = x.astype("float64") @ w + b
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta = (p - np.eye(CLASSES)[y]) / len(x)
    grad_w = x.T.astype("float64") @ delta + 2 * l2 * w
    grad_b = delta.sum(axis=0)
    return np.sqrt((grad_w**2).sum() + (grad_b**2).sum())


class GradientNormTest(parameterized.TestCase):
    @parameterized.named_parameters(
        # 50 examples: batches of 16 leave a last batch of 2, which must weigh
        # 2/50 of the mean, not 1/4.
        ("uneven_batches", 16, 0.0),
        ("one_batch", 50, 0.0),
        ("single_examples", 1, 0.0),
        ("with_l2_penalty", 16, 0.01),
    )
    def test_matches_closed_form(self, batch_size, l2):
        x, y = _data()
        model = _softmax_regression(l2)
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
        self.assertAlmostEqual(
            convergence.gradient_norm(model, dataset),
            _expected_norm(model, x, y, l2),
            places=5,
        )

    def test_leaves_moving_statistics_unchanged(self):
        x, y = _data()
        model = _bn_model()
        before = [v.numpy().copy() for v in model.non_trainable_variables]
        convergence.gradient_norm(
            model, tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        )
        for old, variable in zip(before, model.non_trainable_variables):
            np.testing.assert_array_equal(old, variable.numpy())

    def test_empty_dataset_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "`dataset`"):
            convergence.gradient_norm(_softmax_regression(), [])

    def test_unlabelled_data_is_an_error(self):
        x, _ = _data()
        with self.assertRaisesRegex(ValueError, r"`dataset`.*\(x, y\)"):
            convergence.gradient_norm(
                _softmax_regression(),
                tf.data.Dataset.from_tensor_slices(x).batch(10),
            )


class GradientNormMonitorTest(parameterized.TestCase):
    def _fit(self, model, budget, callbacks, steps_per_execution=1):
        x, y = _data()
        train = tf.data.Dataset.from_tensor_slices((x, y)).batch(10)
        if steps_per_execution > 1:
            model.compile(
                optimizer=model.optimizer,
                loss=model.loss,
                steps_per_execution=steps_per_execution,
            )
        return bk.fit(
            model,
            train.repeat(),
            budget,
            steps_per_epoch=4,  # A multiple of every steps_per_execution.
            callbacks=callbacks,
            verbose=0,
        )

    @parameterized.named_parameters(
        ("ends_and_middle", 10, (0.0, 0.5, 1.0), 1, [0, 5, 10]),
        # round(0.25 * 10) = 2.5 -> 3 (halves round up); 0.01 -> update 0.
        ("rounding", 10, (0.01, 0.25, 1.0), 1, [0, 3, 10]),
        # With 4 batches per execution the monitor sees updates 4 and 8
        # only; 0.25 (update 2) and 0.5 (update 4) are measured once, at 4.
        ("steps_per_execution", 8, (0.0, 0.25, 0.5, 1.0), 4, [0, 4, 8]),
    )
    def test_measures_at_progress_points(
        self, budget, points, per_execution, expected_updates
    ):
        x, y = _data()
        sample = tf.data.Dataset.from_tensor_slices((x, y)).batch(25)
        model = _softmax_regression()
        monitor = convergence.GradientNormMonitor(sample, budget, points)
        history = self._fit(model, budget, [monitor], per_execution)
        updates = [m["updates"] for m in monitor.measurements]
        self.assertEqual(updates, expected_updates)
        self.assertEqual(
            [m["progress"] for m in monitor.measurements],
            [u / budget for u in expected_updates],
        )
        # The last measurement is of the final weights.
        self.assertAlmostEqual(
            monitor.measurements[-1]["gradient_norm"],
            _expected_norm(model, x, y, 0.0),
            places=5,
        )
        self.assertEqual(
            history.history["gradient_norm"][-1],
            monitor.measurements[-1]["gradient_norm"],
        )

    def test_measuring_does_not_change_the_run(self):
        x, y = _data()
        sample = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        weights = []
        for callbacks in (
            [],
            [convergence.GradientNormMonitor(sample, 10, (0, 0.3, 0.7, 1))],
        ):
            keras.utils.set_random_seed(1)
            model = _bn_model()
            self._fit(model, 10, callbacks)
            weights.append(model.get_weights())
        for without, with_monitor in zip(*weights):
            np.testing.assert_array_equal(without, with_monitor)

    @parameterized.named_parameters(
        ("above_one", (0.5, 1.5)),
        ("negative", (-0.1,)),
        ("not_a_number", ("half",)),
        ("empty", ()),
    )
    def test_bad_progress_points_are_an_error_naming_them(self, points):
        with self.assertRaisesRegex(ValueError, "`progress_points`"):
            convergence.GradientNormMonitor([], 10, points)


if __name__ == "__main__":
    absltest.main()
