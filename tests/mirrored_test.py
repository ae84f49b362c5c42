"""Budgeted training under `tf.distribute.MirroredStrategy` on two CPUs.

The two logical CPUs are set up in `conftest.py`; tiny models and reference
rates come from `tiny_models`.
"""

import contextlib

import numpy as np
import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized

import budgeted_keras
from budgeted_keras import schedules
from tests.tiny_models import LR0
from tests.tiny_models import Recorder
from tests.tiny_models import make_dataset
from tests.tiny_models import reference_rate
from tests.tiny_models import sgd_model
from tests.tiny_models import updates_of


class MirroredStrategyTest(parameterized.TestCase):
    def setUp(self):
        super().setUp()
        if len(tf.config.list_logical_devices("CPU")) < 2:
            self.skipTest("needs 2 logical CPUs (set up in conftest.py)")

    def _run(self, strategy):
        with strategy.scope() if strategy else contextlib.nullcontext():
            model = sgd_model(schedules.Cosine(LR0, 6))
        recorder = Recorder()
        # Global batch of 4 examples, split 2 + 2 over the replicas.
        budgeted_keras.fit(
            model,
            make_dataset(4, batch_size=4),
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
        self.assertEqual(updates_of(mirrored.optimizer), 6)
        self.assertEqual(updates_of(single.optimizer), 6)
        expected = [reference_rate("cosine", t, 6) for t in range(6)]
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


if __name__ == "__main__":
    absltest.main()
