"""Kill-and-resume: a SIGKILLed run restarted by the same command ends as
an uninterrupted one would (same updates, LR sequence, logs and weights)."""

import json
import os
import signal
import time

from absl.testing import absltest

from budgeted_keras import preemption
from tests import script_runner

# Digits, 1437 training examples at 32 per batch: 45 batches per epoch; a
# full budget of 12 epochs is 540 updates.
FLAGS = (
    "--budget=1",
    "--full_epochs=12",
    "--model=mlp",
    "--deterministic",
    "--verbose=0",
)


class EpochLogTest(absltest.TestCase):
    def test_truncate_keeps_epochs_before_the_backup(self):
        path = self.create_tempfile(
            content="".join(
                json.dumps({"epoch": e, "loss": 1.0 / (e + 1)}) + "\n"
                for e in range(5)
            )
        ).full_path
        preemption.EpochLog.truncate(path, 3)
        rows = script_runner.read_jsonl(path)
        self.assertEqual([row["epoch"] for row in rows], [0, 1, 2])

    def test_truncate_to_zero_empties_and_missing_file_is_fine(self):
        path = self.create_tempfile(content='{"epoch": 0}\n').full_path
        preemption.EpochLog.truncate(path, 0)
        self.assertEqual(script_runner.read_jsonl(path), [])
        preemption.EpochLog.truncate(path + ".absent", 2)

    def test_restore_without_backup_starts_at_epoch_zero(self):
        self.assertEqual(
            preemption.restore(None, self.create_tempdir().full_path), 0
        )


class KillAndResumeTest(absltest.TestCase):
    def test_killed_run_resumes_to_the_same_end(self):
        root = self.create_tempdir().full_path
        straight = os.path.join(root, "straight")
        script_runner.run(*FLAGS, f"--output_dir={straight}")

        killed = os.path.join(root, "killed")
        latest = os.path.join(killed, "backup", "latest.json")
        process = script_runner.start(
            *FLAGS,
            f"--output_dir={killed}",
            log_path=os.path.join(root, "killed.log"),
        )
        deadline = time.time() + 240
        backed_up_epoch = 0
        try:
            while time.time() < deadline and process.poll() is None:
                if os.path.exists(latest):
                    backed_up_epoch = script_runner.read_json(latest)["epoch"]
                    if backed_up_epoch >= 2:
                        break
                time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        self.assertBetween(backed_up_epoch, 2, 11, "not killed mid-run")
        self.assertFalse(os.path.exists(os.path.join(killed, "result.json")))

        script_runner.run(*FLAGS, f"--output_dir={killed}")
        a = script_runner.read_json(os.path.join(straight, "result.json"))
        b = script_runner.read_json(os.path.join(killed, "result.json"))
        self.assertGreaterEqual(b["resumed_from_epoch"], backed_up_epoch)
        self.assertEqual(a["budget_steps"], 540)
        self.assertEqual(b["updates_done"], a["updates_done"])
        self.assertEqual(b["updates_done"], 540)
        self.assertEqual(
            b["history"]["learning_rate"], a["history"]["learning_rate"]
        )
        # Op determinism is on, and the resumed run replays the same batches:
        # the weights are equal bit for bit, not just close.
        self.assertEqual(b["weights_sha256"], a["weights_sha256"])
        self.assertEqual(b["test_loss"], a["test_loss"])
        # The epoch log has each epoch exactly once, as the straight run's.
        log_a = script_runner.read_jsonl(os.path.join(straight, "log.jsonl"))
        log_b = script_runner.read_jsonl(os.path.join(killed, "log.jsonl"))
        self.assertEqual([row["epoch"] for row in log_b], list(range(12)))
        self.assertEqual(log_b, log_a)
        self.assertFalse(os.path.exists(os.path.join(killed, "backup")))


if __name__ == "__main__":
    absltest.main()
