"""End-to-end runs of experiments.train on tiny budgets, and its errors."""

import json
import os

from absl import app
from absl import flags
from absl.testing import absltest
from absl.testing import flagsaver
from absl.testing import parameterized

from budgeted_keras import data as data_lib
from experiments import train
from experiments import train_lib

FLAGS = flags.FLAGS


class TrainMainTest(parameterized.TestCase):
    def test_main_job_writes_result_json(self):
        output_dir = self.create_tempdir().full_path
        with flagsaver.flagsaver(
            budget=0.1,
            full_epochs=3,
            model="mlp",
            schedule="htd",
            output_dir=output_dir,
            verbose="0",
        ):
            train.main(["train"])
        with open(os.path.join(output_dir, "result.json")) as f:
            result = json.load(f)
        # 1437 digits / 32 per batch -> 45 batches per epoch, 3 epochs -> 135
        # updates in the full budget, 10% -> 13.5, rounded half up -> 14.
        self.assertEqual(result["full_budget_steps"], 135)
        self.assertEqual(result["budget_steps"], 14)
        self.assertEqual(result["updates_done"], 14)
        self.assertEqual(
            result["schedule"]["registered_name"],
            "budgeted_keras>HyperbolicTangent",
        )
        self.assertEqual(result["schedule"]["config"]["budget"]["steps"], 14)
        self.assertBetween(result["test_accuracy"], 0.0, 1.0)
        self.assertIn("learning_rate", result["history"])
        self.assertEqual(result["history"]["budget_used"][-1], 1.0)

    @parameterized.named_parameters(
        ("budget_zero", dict(budget=0.0), "budget"),
        ("budget_negative", dict(budget=-0.5), "budget"),
        ("budget_nan", dict(budget=float("nan")), "budget"),
        # The full budget is 1350 updates: 1e-4 of it is under one update.
        ("budget_under_one_update", dict(budget=1e-4), "budget"),
        (
            "learning_rate_nan",
            dict(learning_rate=float("nan")),
            "learning_rate",
        ),
        ("full_epochs_zero", dict(full_epochs=0.0), "full_epochs"),
        # 45 batches per epoch: 0.01 epoch is under one update.
        ("full_epochs_under_an_update", dict(full_epochs=0.01), "full_epochs"),
        (
            "output_dir_not_a_folder",
            dict(output_dir="/dev/null/run"),
            "output_dir",
        ),
        ("warmup_one", dict(warmup_fraction=1.0), "warmup_fraction"),
        ("warmup_negative", dict(warmup_fraction=-0.1), "warmup_fraction"),
        ("bn_momentum_one", dict(bn_momentum=1.0), "bn_momentum"),
        ("validation_too_big", dict(validation_size=5000), "validation_size"),
        ("subset_too_big", dict(train_subset=5000), "train_subset"),
        ("unknown_tfds", dict(dataset="no_such_dataset"), "dataset"),
        (
            "missing_tfds",
            dict(dataset="cifar10", data_dir="/nonexistent"),
            "dataset",
        ),
    )
    def test_bad_flag_is_a_usage_error_naming_it(self, values, argument):
        values = dict(output_dir=self.create_tempdir().full_path) | values
        with flagsaver.flagsaver(**values):
            with self.assertRaisesRegex(app.UsageError, f"`{argument}`"):
                train.main(["train"])

    @parameterized.named_parameters(
        ("schedule", "--schedule=nope"),
        ("model", "--model=vgg"),
        ("optimizer", "--optimizer=rmsprop"),
        ("batch_size", "--batch_size=0"),
        ("learning_rate", "--learning_rate=-1"),
        ("weight_decay", "--weight_decay=-0.1"),
        ("seed", "--seed=-1"),
    )
    def test_bad_flag_value_is_rejected_by_the_parser(self, argv):
        name = argv[2:].split("=")[0]
        with self.assertRaisesRegex(flags.IllegalFlagValueError, name):
            FLAGS[name].parse(argv.split("=", 1)[1])

    def test_export_dir_never_replaces_a_folder_it_did_not_write(self):
        precious = self.create_tempdir()
        precious.create_file("thesis.txt", content="years of work")
        with flagsaver.flagsaver(
            output_dir=self.create_tempdir().full_path,
            export_dir=precious.full_path,
        ):
            with self.assertRaisesRegex(app.UsageError, "`export_dir`"):
                train.main(["train"])
        self.assertTrue(os.path.exists(precious.full_path + "/thesis.txt"))
        same = self.create_tempdir().full_path
        with flagsaver.flagsaver(output_dir=same, export_dir=same):
            with self.assertRaisesRegex(app.UsageError, "`export_dir`"):
                train.main(["train"])

    def test_backup_of_another_run_is_not_resumed(self):
        output_dir = self.create_tempdir().full_path
        backup = os.path.join(output_dir, "backup")
        os.makedirs(backup)
        with open(os.path.join(backup, "latest.json"), "w") as f:
            json.dump(
                {
                    "epoch": 6,
                    "updates": 270,
                    "weights": "w.h5",
                    "run": {"schedule": "constant"},
                },
                f,
            )
        with flagsaver.flagsaver(output_dir=output_dir, schedule="cosine"):
            with self.assertRaisesRegex(
                app.UsageError, "`output_dir` holds the backup of a different"
            ):
                train.main(["train"])

    def test_misspelt_dataset_suggests_names(self):
        with flagsaver.flagsaver(
            output_dir=self.create_tempdir().full_path, dataset="cifar_10"
        ):
            with self.assertRaisesRegex(
                app.UsageError, "Did you mean cifar10, cifar100"
            ) as raised:
                train.main(["train"])
        # Not TFDS's whole catalogue of datasets.
        self.assertLess(len(str(raised.exception)), 400)

    def test_divergence_ends_with_one_line_and_status_1(self):
        with flagsaver.flagsaver(
            output_dir=self.create_tempdir().full_path,
            learning_rate=1e6,
            verbose="0",
        ):
            with self.assertRaisesRegex(
                SystemExit, "^Training diverged: .*non-finite"
            ):
                train.main(["train"])

    def test_help_lists_the_run_flags(self):
        help_text = FLAGS.module_help(train)
        for name in ("--budget", "--schedule", "--task", "--learning_rate"):
            with self.subTest(name=name):
                self.assertIn(name, help_text)

    def test_missing_dataset_error_says_how_to_provide_it(self):
        with self.assertRaisesRegex(data_lib.DatasetNotFoundError, "data_dir"):
            train_lib.prepare(
                train_lib.TrainConfig(dataset="cifar10", data_dir="/nowhere")
            )


if __name__ == "__main__":
    absltest.main()
