"""The budget counts global updates under tf.distribute strategies."""

import json
import os
import signal
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


_MULTI_FLAGS = (
    "--budget=1",
    "--full_epochs=6",
    "--model=mlp",
    "--verbose=0",
)


def _start_workers(root, flags, tag):
    """Two workers of one cluster on loopback, started by this test."""
    ports = script_runner.free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    return [
        script_runner.start(
            *flags,
            "--strategy=multi_worker",
            f"--output_dir={root}/multi",
            log_path=os.path.join(root, f"{tag}-worker{i}.log"),
            TF_CONFIG=json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": i}}
            ),
        )
        for i in range(2)
    ]


def _stop(workers):
    for worker in workers:
        if worker.poll() is None:
            worker.kill()
        worker.wait(timeout=30)


class MultiWorkerTest(absltest.TestCase):
    def _wait(self, workers, root, tag, timeout=240):
        deadline = time.time() + timeout
        try:
            for worker in workers:
                worker.wait(timeout=max(1, deadline - time.time()))
        finally:
            _stop(workers)
        for i, worker in enumerate(workers):
            with open(os.path.join(root, f"{tag}-worker{i}.log")) as f:
                self.assertEqual(worker.returncode, 0, f.read()[-3000:])

    def _assert_same_run(self, multi, single):
        # 6 full epochs of 45 batches: 270 updates, whatever the replicas.
        self.assertEqual(multi["replicas"], 2)
        self.assertEqual(multi["updates_done"], 270)
        self.assertEqual(multi["updates_done"], single["updates_done"])
        self.assertEqual(
            multi["history"]["learning_rate"],
            single["history"]["learning_rate"],
        )
        self.assertEqual(
            multi["history"]["budget_used"], single["history"]["budget_used"]
        )
        self.assertAlmostEqual(
            multi["test_accuracy"], single["test_accuracy"], delta=0.03
        )

    def test_two_workers_on_loopback_match_one_process(self):
        root = self.create_tempdir().full_path
        script_runner.run(*_MULTI_FLAGS, f"--output_dir={root}/single")
        single = script_runner.read_json(f"{root}/single/result.json")
        self._wait(_start_workers(root, _MULTI_FLAGS, "a"), root, "a")
        multi = script_runner.read_json(f"{root}/multi/result.json")
        self._assert_same_run(multi, single)
        self.assertEqual(multi["resumed_from_epoch"], 0)
        # Only the chief writes the result; the other worker keeps its own
        # epoch log.
        self.assertFalse(os.path.exists(f"{root}/multi/worker-1/result.json"))
        self.assertLen(
            script_runner.read_jsonl(f"{root}/multi/worker-1/log.jsonl"), 6
        )

    def test_killed_worker_and_restarted_cluster_resume_the_run(self):
        root = self.create_tempdir().full_path
        script_runner.run(*_MULTI_FLAGS, f"--output_dir={root}/single")
        single = script_runner.read_json(f"{root}/single/result.json")
        latest = os.path.join(root, "multi", "backup", "latest.json")
        workers = _start_workers(root, _MULTI_FLAGS, "a")
        deadline = time.time() + 240
        epoch = 0
        try:
            while time.time() < deadline and workers[1].poll() is None:
                if os.path.exists(latest):
                    epoch = script_runner.read_json(latest)["epoch"]
                    if epoch >= 2:
                        break
                time.sleep(0.05)
            workers[1].send_signal(signal.SIGKILL)
            # The chief now waits on collectives that will never complete;
            # a cluster restarts as a whole, as after any preemption.
            time.sleep(2)
        finally:
            _stop(workers)
        self.assertBetween(epoch, 2, 5, "worker 1 was not killed mid-run")
        self.assertFalse(os.path.exists(f"{root}/multi/result.json"))

        self._wait(_start_workers(root, _MULTI_FLAGS, "b"), root, "b")
        multi = script_runner.read_json(f"{root}/multi/result.json")
        self.assertGreaterEqual(multi["resumed_from_epoch"], epoch)
        self._assert_same_run(multi, single)
        log = script_runner.read_jsonl(f"{root}/multi/log.jsonl")
        self.assertEqual([row["epoch"] for row in log], list(range(6)))


if __name__ == "__main__":
    absltest.main()
