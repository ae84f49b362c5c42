"""Every task trains under a budget on mocked TFDS data; pipelines, errors.

TFDS cannot download here: `tfds.testing.mock_data` makes random examples
of each dataset's real features. It leaves `is_prepared()` False, so the
tests also mark the mocked datasets as prepared.
"""

import contextlib
import json
import os
from unittest import mock

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl import app
from absl import flags
from absl.testing import absltest
from absl.testing import flagsaver
from absl.testing import parameterized

from budgeted_keras import data as data_lib
from budgeted_keras import models as models_lib
from budgeted_keras import tasks
from budgeted_keras.tasks import base
from budgeted_keras.tasks import detection
from budgeted_keras.tasks import segmentation
from budgeted_keras.tasks import video
from experiments import train

FLAGS = flags.FLAGS
I = segmentation.IGNORE_LABEL  # noqa: E741


def setUpModule():
    if not FLAGS.is_parsed():
        FLAGS.mark_as_parsed()


@contextlib.contextmanager
def mocked_tfds(num_examples=4):
    with (
        tfds.testing.mock_data(num_examples=num_examples),
        mock.patch.object(
            tfds.core.DatasetBuilder, "is_prepared", return_value=True
        ),
    ):
        yield


class RegistryTest(parameterized.TestCase):
    def test_names(self):
        self.assertEqual(
            tasks.names(),
            ["classification", "segmentation", "detection", "video"],
        )

    def test_unknown_task(self):
        with self.assertRaisesRegex(ValueError, "Argument `task`"):
            tasks.get("captioning")

    def test_classification_builds_every_model_name(self):
        self.assertCountEqual(
            tasks.get("classification").model_names(), models_lib.names()
        )

    @parameterized.parameters(tasks.names())
    def test_defaults_and_standard_budgets(self, name):
        task = tasks.get(name)
        self.assertIn(task.default_model, task.model_names())
        self.assertIn(task.default_dataset, task.datasets)
        self.assertIn(task.primary_metric, task.metric_names)
        standard = [c for c in task.configs.values() if c.full_budget]
        self.assertNotEmpty(standard)
        for config in standard:
            self.assertGreater(config.full_epochs, 0)
            self.assertIsInstance(config.recipe, base.Recipe)
        self.assertIn(task.model_config(task.standard_model), standard)

    @parameterized.parameters(
        ("segmentation", "cnn"), ("detection", "deeplabv3plus")
    )
    def test_unknown_model(self, name, model):
        with self.assertRaisesRegex(ValueError, "Argument `model`"):
            tasks.get(name).model_config(model)

    @parameterized.parameters(
        ("segmentation", "coco/2017"), ("video", "cifar10")
    )
    def test_unknown_dataset(self, name, dataset):
        with self.assertRaisesRegex(ValueError, "Argument `dataset`"):
            tasks.get(name).load(dataset)

    @parameterized.parameters(
        ("classification", "imagenet2012", "downloads/manual"),
        ("segmentation", "cityscapes", "downloads/manual"),
        ("detection", "coco/2017", "tfds build coco/2017"),
        ("detection", "voc", "tfds build voc/2007"),
        ("video", "ucf101", "tfds build ucf101"),
    )
    def test_missing_dataset_says_how_to_provide_it(self, name, dataset, how):
        with self.assertRaisesRegex(data_lib.DatasetNotFoundError, how):
            tasks.get(name).load(dataset, data_dir="/nonexistent")


def _run_main(output_dir, **flag_values):
    values = dict(
        output_dir=output_dir,
        verbose="0",
        batch_size=2,
        full_epochs=1.0,
        budget=1.0,
        augment=True,
        validation_size=1,
        bn_recalibration_batches=1,
    )
    values.update(flag_values)
    with flagsaver.flagsaver(**values):
        with mocked_tfds():
            train.main(["train"])
    with open(os.path.join(output_dir, "result.json")) as f:
        return json.load(f)


class TrainEveryTaskTest(parameterized.TestCase):
    """`experiments/train.py --task=<each> --dataset=<its TFDS name>`."""

    @parameterized.named_parameters(
        (
            "classification",
            dict(task="classification", dataset="cifar10", schedule="step"),
            ("accuracy", "top5_accuracy"),
        ),
        (
            "segmentation",
            dict(task="segmentation", dataset="cityscapes", schedule="poly"),
            ("mean_iou",),
        ),
        (
            "retinanet",
            dict(task="detection", dataset="coco/2017", schedule="linear"),
            ("box_map", "box_map_50", "box_map_75"),
        ),
        (
            "yolov8",
            dict(
                task="detection",
                dataset="voc",
                model="yolov8_small",
                schedule="cosine",
            ),
            ("box_map", "box_map_50", "box_map_75"),
        ),
        (
            "video",
            dict(task="video", dataset="ucf101", schedule="htd"),
            ("accuracy",),
        ),
    )
    def test_trains_evaluates_and_writes_result(self, values, metric_names):
        result = _run_main(self.create_tempdir().full_path, **values)
        # 4 mocked examples (mocking ignores split slicing) in batches of 2:
        # 2 updates per epoch, a full budget of 1 epoch.
        self.assertEqual(result["full_budget_steps"], 2)
        self.assertEqual(result["budget_steps"], 2)
        self.assertEqual(result["updates_done"], 2)
        self.assertEqual(result["config"]["task"], values["task"])
        self.assertEqual(result["history"]["budget_used"][-1], 1.0)
        for name in metric_names:
            self.assertBetween(result[f"test_{name}"], 0.0, 1.0)

    def test_model_of_another_task_is_a_usage_error(self):
        with self.assertRaisesRegex(app.UsageError, "`model`"):
            _run_main(
                self.create_tempdir().full_path,
                task="segmentation",
                model="cnn",
            )


class SegmentationPipelineTest(parameterized.TestCase):
    @parameterized.parameters(
        (7, 0), (8, 1), (26, 13), (33, 18), (0, I), (6, I), (34, I), (I, I)
    )
    def test_cityscapes_train_ids(self, label_id, train_id):
        table = segmentation.label_table(segmentation.CITYSCAPES_TRAIN_IDS)
        self.assertEqual(int(table[label_id]), train_id)

    def test_scale_and_crop_pads_with_ignore_label(self):
        # A 4x8 image fits the 4x8 crop; scaled by 0.5 it is 2x4, the rest
        # of the crop is padding: image 0, label 255.
        example = {
            "images": tf.ones((4, 8, 3), "uint8"),
            "segmentation_masks": tf.fill((4, 8, 1), tf.constant(3, "uint8")),
        }
        out = segmentation.scale_and_crop(example, (4, 8), (0.5, 0.5))
        masks = out["segmentation_masks"].numpy()[..., 0]
        self.assertEqual(masks[0, 0], 3)
        self.assertEqual(masks[3, 7], I)
        self.assertEqual(float(out["images"][0, 0, 0]), 1.0)
        self.assertEqual(float(out["images"][3, 7, 0]), 0.0)
        full = segmentation.scale_and_crop(example, (4, 8), (1.0, 1.0))
        np.testing.assert_array_equal(full["segmentation_masks"], 3)

    def test_training_batches_hold_train_ids_or_ignore(self):
        task = tasks.get("segmentation")
        with mocked_tfds(2):
            splits = task.load("cityscapes")
            images, labels = next(
                iter(
                    task.training_stream(
                        splits.train,
                        2,
                        model="deeplabv3plus_small",
                        seed=0,
                        augment=True,
                    )
                )
            )
        self.assertEqual(images.shape, (2, 64, 64, 3))
        self.assertEqual(labels.shape, (2, 64, 64, 1))
        values = set(np.unique(labels.numpy()))
        self.assertTrue(values <= set(range(19)) | {I}, values)


class DetectionPipelineTest(absltest.TestCase):
    def test_to_pixel_xyxy(self):
        boxes = detection.to_pixel_xyxy(
            tf.constant([[0.1, 0.2, 0.5, 0.6], [0.5, 0.6, 0.1, 0.2]]),
            tf.constant([100, 200]),
        )
        np.testing.assert_allclose(boxes, [[40, 10, 120, 50]] * 2, rtol=1e-6)

    def test_decode_makes_lengths_consistent_and_splits_crowds(self):
        task = tasks.get("detection")
        example = {
            "image": tf.zeros((10, 20, 3), "uint8"),
            "objects": {
                "bbox": tf.constant([[0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]] * 2),
                "label": tf.constant([3, 7, 9], "int64"),
                "is_crowd": tf.constant([False, True]),
            },
        }
        out = task.decode(example, task.datasets["coco/2017"], False)
        np.testing.assert_allclose(out["boxes"], [[0, 0, 10, 5]])
        np.testing.assert_allclose(out["classes"], [3])
        np.testing.assert_allclose(out["ignore_boxes"], [[10, 5, 20, 10]])
        np.testing.assert_allclose(out["ignore_classes"], [7])

    def test_pad_boxes_drops_empty_and_pads(self):
        out = detection.pad_boxes(
            {
                "boxes": tf.constant(
                    [[0, 0, 4, 4], [1, 1, 1, 5], [2, 2, 6, 6], [0, 0, 3, 3]],
                    "float32",
                ),
                "classes": tf.constant([1, 2, -1, 4], "float32"),
            },
            max_boxes=3,
        )
        np.testing.assert_allclose(
            out["boxes"], [[0, 0, 4, 4], [0, 0, 3, 3], [-1, -1, -1, -1]]
        )
        np.testing.assert_allclose(out["classes"], [1, 4, -1])

    def test_resize_with_pad_keeps_aspect_ratio(self):
        image, scale = detection.resize_with_pad(
            tf.ones((50, 100, 3)), (64, 64)
        )
        self.assertAlmostEqual(float(scale), 0.64)
        self.assertEqual(image.shape, (64, 64, 3))
        self.assertEqual(float(image[31, 63, 0]), 1.0)
        self.assertEqual(float(image[33, 0, 0]), 0.0)

    def test_evaluation_batches_carry_ignored_regions(self):
        task = tasks.get("detection")
        with mocked_tfds(2):
            splits = task.load("voc")
            images, labels = next(
                iter(task.batches(splits.test, 2, model="yolov8_small"))
            )
        self.assertEqual(images.shape, (2, 64, 64, 3))
        self.assertEqual(labels["boxes"].shape, (2, 100, 4))
        self.assertEqual(labels["ignore_boxes"].shape, (2, 100, 4))
        self.assertFalse(bool(tf.reduce_any(labels["ignore_crowd"])))


def _frames(count):
    return tf.stack(
        [
            tf.io.encode_png(tf.fill((2, 2, 3), tf.constant(i, "uint8")))
            for i in range(count)
        ]
    )


def _videos(lengths, noise=False):
    """A split of videos of 40x40 PNG frames; frame i of a plain one is i."""
    videos = []
    for label, length in enumerate(lengths):
        if noise:
            images = tf.random.stateless_uniform(
                (length, 40, 40, 3), (label, 0), 0, 256, "int32"
            )
        else:
            images = tf.broadcast_to(
                tf.range(length)[:, None, None, None], (length, 40, 40, 3)
            )
        encoded = tf.stack(
            [tf.io.encode_png(tf.cast(i, "uint8")) for i in images]
        )
        videos.append(
            tf.data.Dataset.from_tensors(
                {"frames": encoded, "label": tf.constant(label)}
            )
        )
    split = videos[0]
    for more in videos[1:]:
        split = split.concatenate(more)
    return split


class VideoPipelineTest(parameterized.TestCase):
    @parameterized.named_parameters(
        # Span (4 - 1) * 2 + 1 = 7 frames; the central clip starts at
        # (20 - 7) // 2 = 6. A 5-frame video repeats its last frame.
        ("central", 20, False, [6, 8, 10, 12]),
        ("short_video", 5, False, [0, 2, 4, 4]),
        ("one_frame", 1, True, [0, 0, 0, 0]),
    )
    def test_sample_clip(self, length, random, expected):
        clip = video.sample_clip(_frames(length), 4, 2, random=random)
        np.testing.assert_array_equal(clip[:, 0, 0, 0], expected)

    def test_random_clip_is_contiguous_with_stride(self):
        clip = video.sample_clip(_frames(30), 4, 3, random=True)
        first = clip[:, 0, 0, 0].numpy().astype(int)
        np.testing.assert_array_equal(np.diff(first), [3, 3, 3])

    def test_seeded_random_clip_repeats(self):
        clips = [
            video.sample_clip(_frames(60), 4, 3, random=True, seed=seed)
            for seed in ([1, 2], [1, 2], [5, 6])
        ]
        first = [clip[:, 0, 0, 0].numpy().astype(int) for clip in clips]
        np.testing.assert_array_equal(first[0], first[1])
        np.testing.assert_array_equal(np.diff(first[2]), [3, 3, 3])

    def test_evaluation_takes_the_central_clip(self):
        split = _videos([20, 5])
        clips, labels = next(
            iter(video.Video().batches(split, 2, model="videoswin_small"))
        )
        self.assertEqual(clips.shape, (2, 4, 32, 32, 3))
        np.testing.assert_array_equal(labels, [0, 1])
        # Constant frames keep their value through resizing and cropping.
        np.testing.assert_allclose(
            clips[:, :, 0, 0, 0] * 255.0,
            [[6, 8, 10, 12], [0, 2, 4, 4]],
            atol=1e-3,
        )

    def test_seeded_training_stream_repeats(self):
        split = _videos([9, 20, 31, 12], noise=True)

        def first_batches(seed):
            stream = video.Video().training_stream(
                split, 2, model="videoswin_small", seed=seed, augment=True
            )
            return [clips.numpy() for clips, _ in stream.take(6)]

        first, again, other = (first_batches(s) for s in (3, 3, 4))
        for a, b in zip(first, again):
            np.testing.assert_array_equal(a, b)
        self.assertFalse(
            all(np.array_equal(a, b) for a, b in zip(first, other))
        )
        # Successive epochs draw new clips and augmentation.
        self.assertFalse(
            all(np.array_equal(a, b) for a, b in zip(first[:2], first[2:4]))
        )


if __name__ == "__main__":
    absltest.main()
