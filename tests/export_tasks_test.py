"""Every task's trained model exports a SavedModel that predicts the same.

`tests/export_test.py` reloads a classifier in a fresh process; this file
covers the other tasks' `serve` signatures (`Task.serving_signature`),
reloading in the process that trained.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from absl import flags
from absl.testing import absltest
from absl.testing import parameterized

from budgeted_keras import tasks
from experiments import config as config_lib
from experiments import train_lib
from tests import tasks_test

FLAGS = flags.FLAGS


def setUpModule():
    if not FLAGS.is_parsed():
        FLAGS.mark_as_parsed()


class ExportEveryTaskTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("deeplabv3plus", "segmentation", "deeplabv3plus_small", False),
        ("retinanet", "detection", "retinanet_small", True),
        ("yolov8", "detection", "yolov8_small", False),
        ("videoswin", "video", "videoswin_small", False),
    )
    def test_reloaded_model_predicts_the_same(self, task, model, as_dict):
        root = self.create_tempdir().full_path
        export_dir = os.path.join(root, "export")
        with tasks_test.mocked_tfds():
            experiment = train_lib.prepare(
                config_lib.TrainConfig(
                    task=task,
                    model=model,
                    budget=1.0,
                    full_epochs=1,
                    batch_size=2,
                    bn_recalibration_batches=0,
                    verbose=0,
                    output_dir=os.path.join(root, "run"),
                    export_dir=export_dir,
                )
            )
            train_lib.train_and_evaluate(experiment)
            test = tasks.get(task).batches(
                experiment.splits.test, 2, model=model
            )
            inputs = next(iter(test))[0]
        self.assertTrue(
            os.path.exists(os.path.join(export_dir, config_lib.EXPORT_INFO))
        )
        if as_dict:
            inputs = {"images": inputs}
        expected = tf.nest.flatten(experiment.model(inputs, training=False))
        layer = keras.layers.TFSMLayer(export_dir, call_endpoint="serve")
        reloaded = tf.nest.flatten(layer(inputs))
        self.assertLen(reloaded, len(expected))
        for want, got in zip(expected, reloaded):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


if __name__ == "__main__":
    absltest.main()
