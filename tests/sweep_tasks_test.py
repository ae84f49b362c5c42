"""Sweeps of the segmentation, detection and video tasks.

TFDS cannot download here: `tfds.testing.mock_data` makes random examples
of each dataset's real features. The mocked examples come from a Python
generator (`from_generator`), whose iterators can deadlock when a sweep
drops one run's endless training stream to start the next; and the mocks
ignore split slicing. The tests therefore read each mocked split once
into memory, cut to the size the task asked for.
"""

import contextlib
import dataclasses
import json
import os
from unittest import mock

import tensorflow as tf
import tensorflow_datasets as tfds
from absl import app
from absl import flags
from absl.testing import absltest
from absl.testing import flagsaver
from absl.testing import parameterized

from budgeted_keras import tasks
from experiments import sweep
from experiments import sweep_config
from experiments import sweep_lib
from experiments import sweep_results

FLAGS = flags.FLAGS
OTHER_TASKS = ("segmentation", "detection", "video")


def setUpModule():
    if not FLAGS.is_parsed():
        FLAGS.mark_as_parsed()


def _in_memory(load):
    def cached_load(self, *args, **kwargs):
        splits = load(self, *args, **kwargs)
        cached = {}
        for name in ("train", "validation", "test"):
            split = getattr(splits, name)
            if split is not None:
                if name == "train":
                    split = split.take(splits.train_size)
                split = split.cache()
                for _ in split:  # Fills the cache.
                    pass
            cached[name] = split
        return dataclasses.replace(splits, **cached)

    return cached_load


@contextlib.contextmanager
def mocked_tfds(num_examples=6):
    with contextlib.ExitStack() as stack:
        stack.enter_context(tfds.testing.mock_data(num_examples=num_examples))
        stack.enter_context(
            mock.patch.object(
                tfds.core.DatasetBuilder, "is_prepared", return_value=True
            )
        )
        for name in OTHER_TASKS:
            cls = type(tasks.get(name))
            stack.enter_context(
                mock.patch.object(cls, "load", _in_memory(cls.load))
            )
        yield


class TaskPresetTest(parameterized.TestCase):
    # Expected values copied from each task's standard recipe as its
    # papers give it (see the task modules' `full_budget` text).
    @parameterized.named_parameters(
        (
            "segmentation_cpu",
            "segmentation",
            "cpu",
            dict(
                dataset="cityscapes",
                model="deeplabv3plus_small",
                full_epochs=10.0,
                batch_size=8,
                learning_rate=0.01,
                optimizer="sgd",
                weight_decay=5e-4,
                train_subset=500,
                validation_size=100,
            ),
        ),
        (
            "segmentation_full",
            "segmentation",
            "full",
            dict(
                model="deeplabv3plus",
                full_epochs=215.0,
                batch_size=8,
                train_subset=None,
                validation_size=500,
            ),
        ),
        (
            "detection_cpu",
            "detection",
            "cpu",
            dict(
                dataset="coco/2017",
                model="retinanet_small",
                learning_rate=0.01,
                weight_decay=1e-4,
            ),
        ),
        (
            "detection_full",
            "detection",
            "full",
            dict(model="retinanet", full_epochs=12.17, batch_size=16),
        ),
        (
            "video_cpu",
            "video",
            "cpu",
            dict(
                dataset="ucf101",
                model="videoswin_small",
                batch_size=8,
                optimizer="adamw",
                learning_rate=1e-3,
                weight_decay=0.02,
                warmup_fraction=2.5 / 30,
            ),
        ),
        (
            "video_full",
            "video",
            "full",
            dict(
                model="videoswin_tiny",
                full_epochs=30.0,
                batch_size=64,
                optimizer="adamw",
                warmup_fraction=2.5 / 30,
            ),
        ),
    )
    def test_preset_values(self, task, preset, expected):
        settings = sweep_config.settings_for(preset, task=task)
        self.assertEqual(settings.task, task)
        for name, value in expected.items():
            with self.subTest(name=name):
                self.assertEqual(getattr(settings, name), value)

    def test_task_flag_picks_the_task_defaults(self):
        with flagsaver.flagsaver(task="detection"):
            settings = sweep.config_from_flags().settings
        self.assertEqual(
            (settings.task, settings.dataset, settings.model),
            ("detection", "coco/2017", "retinanet_small"),
        )
        with flagsaver.flagsaver(
            task="detection", dataset="voc", model="yolov8_small"
        ):
            settings = sweep.config_from_flags().settings
        self.assertEqual(
            (settings.dataset, settings.model), ("voc", "yolov8_small")
        )

    @parameterized.named_parameters(
        ("model_of_another_task", dict(task="video", model="cnn"), "model"),
        (
            "dataset_of_another_task",
            dict(task="segmentation", dataset="cifar10"),
            "dataset",
        ),
        (
            "width_of_a_classifier",
            dict(task="segmentation", model_width=8),
            "model_width",
        ),
        ("missing_data", dict(task="detection"), "dataset"),
    )
    def test_bad_combination_is_a_usage_error(self, values, name):
        output_dir = self.create_tempdir().full_path
        values = dict(values, output_dir=output_dir, data_dir=output_dir)
        with mock.patch.object(sweep_lib, "execute") as execute:
            with flagsaver.flagsaver(**values):
                with self.assertRaisesRegex(app.UsageError, f"`{name}`"):
                    sweep.main(["sweep"])
            execute.assert_not_called()

    def test_results_from_before_tasks_resume_as_classification(self):
        settings = sweep_config.settings_for("cpu", "digits")
        old = settings.fingerprint()
        del old["task"]
        path = os.path.join(self.create_tempdir().full_path, "r.jsonl")
        with open(path, "w") as f:
            line = dict(method="linear", budget=0.5, seed=0, settings=old)
            f.write(json.dumps(line) + "\n")
        self.assertEqual(
            sweep_results.finished_runs(path, settings.fingerprint()),
            {"linear|0.5|0"},
        )
        other = sweep_config.settings_for("cpu", task="video")
        with self.assertRaisesRegex(ValueError, "differing in: .*task"):
            sweep_results.finished_runs(path, other.fingerprint())


class TaskSweepTest(parameterized.TestCase):
    # 4 training examples in batches of 2 for 2 epochs: a full budget of 4
    # updates; 50% of it is 2.
    @parameterized.parameters(
        ("segmentation", "mean_iou"),
        ("detection", "box_map"),
        ("video", "accuracy"),
    )
    def test_sweep_trains_and_reports_the_task_metric(self, task, metric):
        output_dir = self.create_tempdir().full_path
        with mocked_tfds():
            settings = sweep_config.settings_for(
                "cpu",
                task=task,
                train_subset=4,
                validation_size=0,
                full_epochs=2.0,
                batch_size=2,
                bn_recalibration_batches=1,
                grad_norm_examples=2,
                grad_norm_points=(0.0, 1.0),
            )
            config = sweep_config.SweepConfig(
                settings=settings,
                output_dir=output_dir,
                budgets=(0.5,),
                schedules=("linear",),
                baselines=("subsample",),
                seeds=1,
                grad_norm_methods=("linear",) if task == "video" else (),
            )
            path = sweep_lib.run_sweep(config)
        lines = sweep_results.read_results(path)
        self.assertEqual(
            [(r["method"], r["budget"]) for r in lines],
            [("linear", 0.5), ("subsample", 0.5)],
        )
        for line in lines:
            with self.subTest(method=line["method"]):
                self.assertEqual(line["status"], "ok")
                self.assertEqual(line["metric"], metric)
                self.assertEqual(line["settings"]["task"], task)
                self.assertEqual(line["full_budget_steps"], 4)
                self.assertEqual(line["budget_steps"], 2)
                self.assertEqual(line["updates_done"], 2)
                self.assertBetween(line[f"test_{metric}"], 0.0, 1.0)
                self.assertBetween(line[f"test_{metric}_no_recal"], 0.0, 1.0)
                self.assertIn("train_loss", line)
        # subsample trains on round(0.5 * 4) = 2 of the 4 examples.
        self.assertEqual([r["train_examples"] for r in lines], [4, 2])
        if task == "video":
            self.assertEqual(
                [m["updates"] for m in lines[0]["gradient_norm"]], [0, 2]
            )
        report = open(os.path.join(output_dir, "report.md")).read()
        self.assertIn(f"## test_{metric}: mean ± std", report)
        self.assertIn(f"Task: {task}", report)


class ChoicesTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("unknown", dict(schedules=("foo", "linear")), r"\['foo', 'linear'\]"),
        ("alias_repeats", dict(schedules=("linear", "LINEAR")), "repeat"),
        ("empty", dict(schedules=()), "must not be empty"),
        ("unknown_baseline", dict(baselines=("sgd",)), r"\['sgd'\]"),
    )
    def test_message_shows_what_was_given(self, values, message):
        config = sweep_config.SweepConfig(
            settings=sweep_config.settings_for("cpu", "digits"),
            output_dir="unused",
            **values,
        )
        with self.assertRaisesRegex(ValueError, message):
            sweep_config.validate(config)

    def test_aliases_are_accepted_and_listed(self):
        config = sweep_config.SweepConfig(
            settings=sweep_config.settings_for("cpu", "digits"),
            output_dir="unused",
            schedules=("htd", "poly", "1/t"),
        )
        self.assertEqual(
            sweep_config.validate(config).schedules,
            ("hyperbolic_tangent", "polynomial", "inverse_time"),
        )
        bad = dataclasses.replace(config, schedules=("tan",))
        with self.assertRaisesRegex(ValueError, "htd, inv, poly, tanh"):
            sweep_config.validate(bad)


class SharedSplitTest(absltest.TestCase):
    def test_only_fixed_size_images_are_held_in_memory(self):
        task = tasks.get("classification")
        images = tf.data.Dataset.from_tensor_slices(
            (tf.zeros((3, 8, 8, 1)), tf.zeros(3, "int64"))
        )
        self.assertIsInstance(task.shared(images), type(images.cache()))
        # Sizes that depend on the example: unknown to the dataset.
        variable = images.map(
            lambda x, y: (
                tf.image.resize(x, [8 + tf.cast(y, "int32"), 8]),
                y,
            )
        )
        self.assertIs(task.shared(variable), variable)
        for name in OTHER_TASKS:
            self.assertIs(tasks.get(name).shared(images), images)


if __name__ == "__main__":
    absltest.main()
