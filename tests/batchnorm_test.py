"""Tests of BatchNorm recalibration, against statistics computed in NumPy."""

import keras
import numpy as np
import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized

from budgeted_keras import batchnorm
from experiments import config as config_lib
from experiments import train_lib

EPSILON = 1e-3  # Keras' BatchNormalization default.


def _data(n=50, features=4, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, features)) * 3 + 1).astype("float32")
    y = rng.integers(0, 2, size=n).astype("int32")
    return x, y


def _two_bn_model(momentum=0.99):
    """Dense -> BN -> Dense -> BN, with known layer handles."""
    inputs = keras.Input((4,))
    dense1 = keras.layers.Dense(3)
    bn1 = keras.layers.BatchNormalization(momentum=momentum)
    dense2 = keras.layers.Dense(2)
    bn2 = keras.layers.BatchNormalization(momentum=momentum)
    outputs = bn2(dense2(bn1(dense1(inputs))))
    return keras.Model(inputs, outputs), (dense1, bn1, dense2, bn2)


def _expected_statistics(x, batch_size, layers, num_batches=None):
    """Per-layer averages of batch means and (biased) variances, in NumPy.

    Reimplements the training-mode forward pass: each BN normalizes with the
    batch's own statistics.
    """
    dense1, bn1, dense2, _ = layers
    w1, b1 = (v.numpy().astype("float64") for v in dense1.weights)
    w2, b2 = (v.numpy().astype("float64") for v in dense2.weights)
    gamma = bn1.gamma.numpy().astype("float64")
    beta = bn1.beta.numpy().astype("float64")
    stats = [[], []]
    starts = list(range(0, len(x), batch_size))[:num_batches]
    for start in starts:
        a1 = x[start : start + batch_size].astype("float64") @ w1 + b1
        mean1, var1 = a1.mean(axis=0), a1.var(axis=0)
        h = (a1 - mean1) / np.sqrt(var1 + EPSILON) * gamma + beta
        a2 = h @ w2 + b2
        stats[0].append((mean1, var1))
        stats[1].append((a2.mean(axis=0), a2.var(axis=0)))
    return [
        (np.mean([m for m, _ in s], axis=0), np.mean([v for _, v in s], axis=0))
        for s in stats
    ]


class RecalibrateTest(parameterized.TestCase):
    @parameterized.named_parameters(
        # 50 examples in batches of 16: 16, 16, 16 and a last batch of 2,
        # which weighs as much as the others (as in PyTorch's update_bn).
        ("uneven_batches", 16, 100, 4),
        ("one_batch", 50, 100, 1),
        ("first_two_batches", 16, 2, 2),
    )
    def test_sets_exact_average_of_batch_statistics(
        self, batch_size, num_batches, expected_batches
    ):
        x, y = _data()
        model, layers = _two_bn_model()
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
        used = batchnorm.recalibrate(model, dataset, num_batches)
        self.assertEqual(used, expected_batches)
        expected = _expected_statistics(x, batch_size, layers, num_batches)
        for bn, (mean, var) in zip((layers[1], layers[3]), expected):
            np.testing.assert_allclose(bn.moving_mean.numpy(), mean, atol=1e-5)
            np.testing.assert_allclose(
                bn.moving_variance.numpy(), var, rtol=1e-5, atol=1e-5
            )

    @parameterized.named_parameters(
        ("keras", 0.99), ("pytorch_like", 0.9), ("zero", 0.0)
    )
    def test_result_ignores_momentum_and_old_statistics(self, momentum):
        x, y = _data()
        model, layers = _two_bn_model(momentum)
        for bn in (layers[1], layers[3]):
            bn.moving_mean.assign(np.full(bn.moving_mean.shape, 7.0))
            bn.moving_variance.assign(np.full(bn.moving_variance.shape, 9.0))
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        batchnorm.recalibrate(model, dataset, 10)
        expected = _expected_statistics(x, 16, layers)
        np.testing.assert_allclose(
            layers[3].moving_mean.numpy(), expected[1][0], atol=1e-5
        )
        self.assertEqual(layers[1].momentum, momentum)
        self.assertEqual(layers[3].momentum, momentum)

    def test_weights_are_not_updated(self):
        x, y = _data()
        model, _ = _two_bn_model()
        before = [w.copy() for w in model.get_weights()]
        names = [v.path for v in model.weights]
        batchnorm.recalibrate(
            model, tf.data.Dataset.from_tensor_slices((x, y)).batch(16), 4
        )
        for name, old, new in zip(names, before, model.get_weights()):
            if "moving" not in name:
                np.testing.assert_array_equal(old, new, err_msg=name)

    def test_conv_layer_statistics_are_per_channel(self):
        rng = np.random.default_rng(1)
        x = rng.normal(2.0, 3.0, size=(12, 5, 5, 3)).astype("float32")
        bn = keras.layers.BatchNormalization()
        model = keras.Sequential([keras.Input((5, 5, 3)), bn])
        batchnorm.recalibrate(
            model, tf.data.Dataset.from_tensor_slices(x).batch(5), 10
        )
        batches = [x[i : i + 5].astype("float64") for i in (0, 5, 10)]
        mean = np.mean([b.mean(axis=(0, 1, 2)) for b in batches], axis=0)
        var = np.mean([b.var(axis=(0, 1, 2)) for b in batches], axis=0)
        np.testing.assert_allclose(bn.moving_mean.numpy(), mean, atol=1e-5)
        np.testing.assert_allclose(bn.moving_variance.numpy(), var, rtol=1e-5)

    def test_nested_layers_are_found_and_frozen_layers_kept(self):
        inner_bn = keras.layers.BatchNormalization()
        frozen_bn = keras.layers.BatchNormalization()
        frozen_bn.trainable = False
        inner = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(4), inner_bn], name="inner"
        )
        model = keras.Sequential([keras.Input((4,)), inner, frozen_bn])
        self.assertEqual(batchnorm.batch_norm_layers(model), [inner_bn])
        x, y = _data()
        batchnorm.recalibrate(
            model, tf.data.Dataset.from_tensor_slices((x, y)).batch(25), 2
        )
        self.assertGreater(np.abs(inner_bn.moving_mean.numpy()).max(), 0.0)
        np.testing.assert_array_equal(frozen_bn.moving_mean.numpy(), 0.0)
        np.testing.assert_array_equal(frozen_bn.moving_variance.numpy(), 1.0)

    def test_with_one_batch_inference_matches_training_mode(self):
        # With the statistics of the very batch, inference mode computes what
        # training mode computes: the evaluation no longer collapses.
        x, y = _data()
        model, _ = _two_bn_model()
        batchnorm.recalibrate(
            model, tf.data.Dataset.from_tensor_slices((x, y)).batch(50), 1
        )
        np.testing.assert_allclose(
            model(x, training=False).numpy(),
            model(x, training=True).numpy(),
            atol=1e-4,
        )

    def test_renorm_layer_gets_matching_stddev(self):
        x, _ = _data()
        bn = keras.layers.BatchNormalization(renorm=True)
        model = keras.Sequential([keras.Input((4,)), bn])
        batchnorm.recalibrate(
            model, tf.data.Dataset.from_tensor_slices(x).batch(25), 2
        )
        var = np.mean([x[:25].var(axis=0), x[25:].var(axis=0)], axis=0)
        np.testing.assert_allclose(bn.moving_variance.numpy(), var, rtol=1e-4)
        np.testing.assert_allclose(
            bn.moving_stddev.numpy(), np.sqrt(var + EPSILON), rtol=1e-4
        )

    def test_model_without_batch_norm_reads_nothing(self):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

        def fail():
            raise AssertionError("the dataset was read")
            yield  # pragma: no cover

        self.assertEqual(batchnorm.recalibrate(model, fail(), 5), 0)

    def test_empty_dataset_is_an_error(self):
        model, _ = _two_bn_model()
        with self.assertRaisesRegex(ValueError, "`dataset`"):
            batchnorm.recalibrate(model, [], 5)

    @parameterized.named_parameters(
        ("zero", 0),
        ("negative", -1),
        ("fraction", 1.5),
        ("bool", True),
        ("string", "3"),
    )
    def test_bad_num_batches_is_an_error_naming_it(self, value):
        model, _ = _two_bn_model()
        with self.assertRaisesRegex(
            ValueError, r"Argument `num_batches`.*Received: num_batches="
        ):
            batchnorm.recalibrate(model, [], value)


class BatchNormRecalibrationTest(parameterized.TestCase):
    def test_recalibrates_when_training_ends(self):
        x, y = _data()
        model, layers = _two_bn_model()
        model.compile(
            optimizer=keras.optimizers.SGD(0.1),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
        callback = batchnorm.BatchNormRecalibration(dataset, num_batches=4)
        history = model.fit(
            dataset, epochs=2, callbacks=[callback], shuffle=False, verbose=0
        )
        self.assertEqual(callback.batches_used, 4)
        self.assertLen(history.history["loss"], 2)
        # Statistics of the trained weights, not of any weights seen during
        # training: momentum 0.99 over 8 updates would be far from these.
        expected = _expected_statistics(x, 16, layers)
        np.testing.assert_allclose(
            layers[3].moving_variance.numpy(),
            expected[1][1],
            rtol=1e-4,
            atol=1e-5,
        )

    def test_bad_num_batches_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "`num_batches`"):
            batchnorm.BatchNormRecalibration([], num_batches=0)


class TrainScriptTest(parameterized.TestCase):
    def _moving_variances(self, batches):
        config = config_lib.TrainConfig(
            budget=0.05,
            full_epochs=1,
            schedule="linear",
            model="cnn",
            bn_recalibration_batches=batches,
            verbose=0,
            output_dir=self.create_tempdir().full_path,
        )
        experiment = train_lib.prepare(config)
        train_lib.train_and_evaluate(experiment)
        return [
            layer.moving_variance.numpy()
            for layer in batchnorm.batch_norm_layers(experiment.model)
        ]

    def test_train_recalibrates_by_default_and_zero_disables(self):
        self.assertEqual(config_lib.TrainConfig().bn_recalibration_batches, 100)
        # 2 updates at momentum 0.99 leave the variances within 2% of their
        # initial 1; recalibrated, they are the data's.
        kept = self._moving_variances(0)
        recalibrated = self._moving_variances(3)
        for old, new in zip(kept, recalibrated):
            np.testing.assert_allclose(old, 1.0, atol=0.03)
            self.assertGreater(np.abs(new - 1.0).max(), 0.1)


if __name__ == "__main__":
    absltest.main()
