"""The budget counts global updates under tf.distribute strategies."""

import json
import os
import time

import tensorflow as tf
from absl.testing import absltest
from absl.testing import parameterized

from budgeted_keras import distribute
from experiments import config as config_lib
from experiments import train_lib
from tests import script_runner


def _config(output_dir, **overrides):
    # Digits: 1437 examples at 32 per batch, 45 batches per epoch; 3 full
    # epochs are 135 updates, a 30% budget is 40.5 -> 41 updates.
    values = dict(
        budget=0.3,
        full_epochs=3,
        model="mlp",
        verbose=0,
        output_dir=output_dir,
    )
    values.update(overrides)
    return config_lib.TrainConfig(**values)


class StrategyTest(parameterized.TestCase):
    def test_get_strategy_names(self):
        self.assertIsInstance(
            distribute.get_strategy("one_device"),
            tf.distribute.OneDeviceStrategy,
        )
        self.assertIs(
            distribute.get_strategy("default"), tf.distribute.get_strategy()
        )
        self.assertTrue(distribute.is_chief(tf.distribute.get_strategy()))

    @parameterized.parameters(("nccl", "strategy"), ("tpu", "tpu"))
    def test_bad_strategy_names_the_argument(self, name, argument):
        with self.assertRaisesRegex(ValueError, f"`{argument}`"):
            distribute.get_strategy(name)

    def test_mirrored_two_replicas_match_one_device(self):
        if len(tf.config.list_logical_devices("CPU")) < 2:
            self.skipTest("needs the two logical CPUs of conftest.py")
        one = train_lib.train_and_evaluate(
            _config(self.create_tempdir().full_path)
        )
        two = train_lib.train_and_evaluate(
            _config(self.create_tempdir().full_path, strategy="mirrored")
        )
        self.assertEqual(one["replicas"], 1)
        self.assertEqual(two["replicas"], 2)
        self.assertEqual(one["budget_steps"], 41)
        self.assertEqual(two["updates_done"], one["updates_done"])
        self.assertEqual(two["updates_done"], 41)
        # The schedule is a function of the global update count only.
        self.assertEqual(
            two["history"]["learning_rate"], one["history"]["learning_rate"]
        )
        self.assertEqual(
            two["history"]["budget_used"], one["history"]["budget_used"]
        )
        # Same global batches; replicas only change the summation order.
        self.assertAlmostEqual(
            two["test_accuracy"], one["test_accuracy"], delta=0.03
        )


class MultiWorkerTest(absltest.TestCase):
    def test_two_workers_on_loopback_match_one_process(self):
        root = self.create_tempdir().full_path
        flags = (
            "--budget=0.3",
            "--full_epochs=3",
            "--model=mlp",
            "--verbose=0",
        )
        script_runner.run(*flags, f"--output_dir={root}/single")
        ports = script_runner.free_ports(2)
        cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
        workers = [
            script_runner.start(
                *flags,
                "--strategy=multi_worker",
                f"--output_dir={root}/multi",
                log_path=os.path.join(root, f"worker{i}.log"),
                TF_CONFIG=json.dumps(
                    {"cluster": cluster, "task": {"type": "worker", "index": i}}
                ),
            )
            for i in range(2)
        ]
        deadline = time.time() + 240
        try:
            for worker in workers:
                worker.wait(timeout=max(1, deadline - time.time()))
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
        for i, worker in enumerate(workers):
            with open(os.path.join(root, f"worker{i}.log")) as f:
                self.assertEqual(worker.returncode, 0, f.read()[-3000:])
        single = script_runner.read_json(f"{root}/single/result.json")
        multi = script_runner.read_json(f"{root}/multi/result.json")
        self.assertEqual(multi["replicas"], 2)
        self.assertEqual(multi["updates_done"], single["updates_done"])
        self.assertEqual(multi["updates_done"], 41)
        self.assertEqual(
            multi["history"]["learning_rate"],
            single["history"]["learning_rate"],
        )
        self.assertAlmostEqual(
            multi["test_accuracy"], single["test_accuracy"], delta=0.03
        )
        # Only the chief writes the result; the other worker writes its
        # epoch log in its own folder.
        self.assertFalse(os.path.exists(f"{root}/multi/worker-1/result.json"))


if __name__ == "__main__":
    absltest.main()
