"""Exported SavedModels reload in a fresh process and predict identically."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
from absl.testing import absltest

from budgeted_keras import data as data_lib
from experiments import config as config_lib
from experiments import train_lib
from tests import script_runner

_RELOAD = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    layer = keras.layers.TFSMLayer(sys.argv[1], call_endpoint="serve")
    images = np.load(sys.argv[2])
    np.save(sys.argv[3], keras.ops.convert_to_numpy(layer(images)))
    try:
        import tensorflow_hub as hub
    except ImportError:
        pass
    else:
        np.save(sys.argv[3] + ".hub.npy", hub.load(sys.argv[1]).serve(images))
    """
)


class ExportTest(absltest.TestCase):
    def test_saved_model_predicts_identically_in_a_fresh_process(self):
        root = self.create_tempdir().full_path
        export_dir = os.path.join(root, "export")
        experiment = train_lib.prepare(
            config_lib.TrainConfig(
                budget=0.2,
                full_epochs=2,
                model="cnn",
                verbose=0,
                output_dir=os.path.join(root, "run"),
                export_dir=export_dir,
            )
        )
        result = train_lib.train_and_evaluate(experiment)
        images = np.concatenate(
            [x.numpy() for x, _ in data_lib.batches(experiment.splits.test, 64)]
        )
        expected = experiment.model.predict(images, verbose=0)
        np.save(os.path.join(root, "images.npy"), images)

        subprocess.run(
            [
                sys.executable,
                "-c",
                _RELOAD,
                export_dir,
                os.path.join(root, "images.npy"),
                os.path.join(root, "reloaded.npy"),
            ],
            check=True,
            env=script_runner.env(),
            timeout=120,
        )
        reloaded = np.load(os.path.join(root, "reloaded.npy"))
        self.assertEqual(reloaded.shape, (360, 10))
        np.testing.assert_array_equal(reloaded, expected)
        hub_path = os.path.join(root, "reloaded.npy.hub.npy")
        if os.path.exists(hub_path):
            np.testing.assert_array_equal(np.load(hub_path), expected)

        with open(os.path.join(export_dir, "budgeted_run.json")) as f:
            info = json.load(f)
        self.assertEqual(info["budget"]["steps"], result["budget_steps"])
        self.assertEqual(info["full_budget"]["steps"], 90)
        self.assertEqual(
            info["schedule"]["registered_name"], "budgeted_keras>Linear"
        )
        self.assertEqual(info["input_shape"], [8, 8, 1])
        self.assertEqual(info["test_accuracy"], result["test_accuracy"])


if __name__ == "__main__":
    absltest.main()
