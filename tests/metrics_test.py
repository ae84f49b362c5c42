"""Mean IoU and COCO box AP against values computed by hand."""

import math

import keras
import numpy as np
from absl.testing import absltest
from absl.testing import parameterized

from budgeted_keras import metrics

I = metrics.IGNORE_LABEL  # noqa: E741

# Labels and predictions of a 2x4 image, 3 classes, one ignored pixel
# (predicted as class 0, which must not count). Pairs (truth, prediction)
# of the other 7 pixels: (0,0) (0,1) (1,1) (2,2) (1,2) (1,1) (2,2).
#   class 0: TP 1, truth 2, predicted 1 -> 1 / (2 + 1 - 1) = 1/2
#   class 1: TP 2, truth 3, predicted 3 -> 2 / (3 + 3 - 2) = 1/2
#   class 2: TP 2, truth 2, predicted 3 -> 2 / (2 + 3 - 2) = 2/3
_TRUTH = [[0, 0, 1, I], [2, 1, 1, 2]]
_PREDICTED = [[0, 1, 1, 0], [2, 2, 1, 2]]


# Six classes; scores ranked by value. Example 0: label 5 has the top
# score (hit); example 1: label 0 has the lowest (rank 6, miss); example 2:
# label 4 is ranked 5th (hit).
_SCORES = [
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
    [5.0, 1.0, 4.0, 3.0, 2.0, 6.0],
]


class SparseTopKAccuracyTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("top5_float32", 5, "float32", [5, 0, 4], 2 / 3),
        ("top5_float16", 5, "float16", [5, 0, 4], 2 / 3),
        ("top5_bfloat16", 5, "bfloat16", [5, 0, 4], 2 / 3),
        ("top1", 1, "float32", [5, 0, 4], 1 / 3),
        ("top6_always", 6, "float16", [5, 0, 4], 1.0),
    )
    def test_accuracy(self, k, dtype, labels, expected):
        metric = metrics.SparseTopKAccuracy(k=k)
        scores = keras.ops.cast(np.array(_SCORES), dtype)
        metric.update_state(np.array(labels), scores)
        self.assertAlmostEqual(float(metric.result()), expected, places=6)

    def test_serialization_round_trip(self):
        metric = metrics.SparseTopKAccuracy(k=3, name="top3")
        restored = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(metric)
        )
        self.assertIsInstance(restored, metrics.SparseTopKAccuracy)
        self.assertEqual(
            (restored.name, restored.get_config()["k"]), ("top3", 3)
        )


class MeanIoUTest(parameterized.TestCase):
    @parameterized.named_parameters(
        (
            "ignore_label_left_out",
            3,
            _TRUTH,
            _PREDICTED,
            [1 / 2, 1 / 2, 2 / 3],
            (1 / 2 + 1 / 2 + 2 / 3) / 3,
        ),
        (
            # Class 3 occurs nowhere: no IoU, not in the mean.
            "absent_class_left_out",
            4,
            _TRUTH,
            _PREDICTED,
            [1 / 2, 1 / 2, 2 / 3, math.nan],
            (1 / 2 + 1 / 2 + 2 / 3) / 3,
        ),
        (
            "perfect",
            3,
            [[0, 1], [2, I]],
            [[0, 1], [2, 1]],
            [1.0, 1.0, 1.0],
            1.0,
        ),
        (
            # Truth 0 everywhere, predicted 1: both classes IoU 0.
            "all_wrong",
            2,
            [[0, 0], [0, 0]],
            [[1, 1], [1, 1]],
            [0.0, 0.0],
            0.0,
        ),
    )
    def test_iou_table(self, num_classes, truth, predicted, table, mean):
        truth = np.array(truth)[None, ..., None]
        scores = np.eye(num_classes, dtype="float32")[np.array(predicted)]
        metric = metrics.mean_iou(num_classes)
        metric.update_state(truth, scores[None])
        np.testing.assert_allclose(
            metrics.iou_per_class(metric.total_cm.numpy()), table, rtol=1e-6
        )
        self.assertAlmostEqual(float(metric.result()), mean, places=6)

    def test_name_and_config(self):
        metric = metrics.mean_iou(19)
        self.assertEqual(metric.name, "mean_iou")
        self.assertEqual(metric.get_config()["ignore_class"], 255)

    @parameterized.named_parameters(
        ("one_class", dict(num_classes=1)),
        ("negative_ignore", dict(num_classes=3, ignore_label=-1)),
    )
    def test_bad_argument(self, kwargs):
        with self.assertRaisesRegex(ValueError, "Argument `"):
            metrics.mean_iou(**kwargs)


class BoxIoUTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("same", [0, 0, 10, 10], [0, 0, 10, 10], False, 1.0),
        ("disjoint", [0, 0, 10, 10], [20, 20, 30, 30], False, 0.0),
        # Overlap 50, union 100 + 100 - 50 = 150.
        ("half_shift", [0, 0, 10, 10], [5, 0, 15, 10], False, 1 / 3),
        # Crowd: overlap / area of the first box = 50 / 100.
        ("half_shift_crowd", [0, 0, 10, 10], [5, 0, 15, 10], True, 0.5),
        # Inside a crowd region: 100 / 100.
        ("inside_crowd", [0, 0, 10, 10], [0, 0, 100, 100], True, 1.0),
        ("inside_plain", [0, 0, 10, 10], [0, 0, 100, 100], False, 0.01),
        # An untrained detector's non-finite box overlaps nothing.
        ("nan_box", [math.nan, 0, 10, 10], [0, 0, 10, 10], False, 0.0),
        ("inf_box", [0, 0, math.inf, 10], [0, 0, 10, 10], True, 0.0),
    )
    def test_iou(self, box, other, crowd, expected):
        iou = metrics.box_iou([box], [other], crowd=[crowd])
        self.assertAlmostEqual(float(iou[0, 0]), expected, places=9)


def _image(gt=(), gt_classes=(), dets=(), det_classes=(), scores=(), **kw):
    return (gt, gt_classes, dets, det_classes, scores), kw


_A = [0, 0, 10, 10]
_B = [20, 20, 30, 30]
_CROWD = [40, 40, 140, 140]
_IN_CROWD = [40, 40, 50, 50]

# Two ground-truth boxes; detections: exact (0.9, TP), elsewhere (0.8, FP),
# and IoU 0.62 with the second box (0.7; a TP at IoU 0.50, 0.55, 0.60).
#   At those 3 thresholds: recall .5, .5, 1; precision 1, .5, 2/3 ->
#   monotone 1, 2/3, 2/3: 51 recall points (0..0.50) at 1 and 50 at 2/3,
#   AP = (51 + 100/3) / 101 = 253/303.
#   At the other 7: TP, FP, FP: 51 points at 1, the rest 0: AP = 51/101.
#   mAP = (3 * 253/303 + 7 * 51/101) / 10 = 61/101.
_TWO_OF_THREE = [
    _image(
        [_A, _B],
        [0, 0],
        [_A, [50, 50, 60, 60], [20, 20, 30, 26.2]],
        [0, 0, 0],
        [0.9, 0.8, 0.7],
    )
]


class BoxAPTest(parameterized.TestCase):
    @parameterized.named_parameters(
        ("perfect", [_image([_A], [1], [_A], [1], [0.9])], 1.0, 1.0, 1.0),
        ("two_of_three", _TWO_OF_THREE, 61 / 101, 253 / 303, 51 / 101),
        (
            # A false positive ranked first: precision 0 then 1/2 at recall
            # 1, made monotone: 1/2 at every recall point.
            "false_positive_first",
            [_image([_A], [0], [_A, _B], [0, 0], [0.9, 0.95])],
            0.5,
            0.5,
            0.5,
        ),
        (
            # The same false positive inside a crowd region is ignored.
            "crowd_ignored",
            [
                _image(
                    [_A],
                    [0],
                    [_A, _IN_CROWD],
                    [0, 0],
                    [0.9, 0.95],
                    ignore_boxes=[_CROWD],
                    ignore_classes=[0],
                )
            ],
            1.0,
            1.0,
            1.0,
        ),
        (
            # A "difficult" region matched by plain IoU (0.01): not
            # matched, so still a false positive.
            "difficult_needs_plain_iou",
            [
                _image(
                    [_A],
                    [0],
                    [_A, _IN_CROWD],
                    [0, 0],
                    [0.9, 0.95],
                    ignore_boxes=[_CROWD],
                    ignore_classes=[0],
                    crowd=False,
                )
            ],
            0.5,
            0.5,
            0.5,
        ),
        (
            # Class 0 perfect, class 1 has ground truth and no detection.
            "class_without_detections_counts_zero",
            [_image([_A, _B], [0, 1], [_A], [0], [0.9])],
            0.5,
            0.5,
            0.5,
        ),
        (
            # Class 2 has detections only: left out of the mean.
            "class_without_ground_truth_left_out",
            [_image([_A], [0], [_A, _B], [0, 2], [0.9, 0.99])],
            1.0,
            1.0,
            1.0,
        ),
        (
            # Ranking is across images: image 2's FP (0.95) before image
            # 1's TP (0.9), as in "false_positive_first".
            "ranked_across_images",
            [
                _image([_A], [0], [_A], [0], [0.9]),
                _image([], [], [_B], [0], [0.95]),
            ],
            0.5,
            0.5,
            0.5,
        ),
        ("no_ground_truth", [_image([], [], [_A], [0], [0.9])], -1, -1, -1),
    )
    def test_ap(self, images, expected, expected_50, expected_75):
        ap = metrics.BoxAP()
        for args, kwargs in images:
            ap.update_image(*args, **kwargs)
        result = ap.result()
        self.assertAlmostEqual(result["box_map"], expected, places=9)
        self.assertAlmostEqual(result["box_map_50"], expected_50, places=9)
        self.assertAlmostEqual(result["box_map_75"], expected_75, places=9)

    def test_max_detections_per_image_and_class(self):
        # Only the best of two correct detections is kept: recall 1/2,
        # 51 of 101 recall points at precision 1.
        ap = metrics.BoxAP(max_detections=1)
        ap.update_image([_A, _B], [0, 0], [_A, _B], [0, 0], [0.9, 0.8])
        self.assertAlmostEqual(ap.result()["box_map"], 51 / 101, places=9)

    def test_padded_batch_equals_images(self):
        pad = [-1, -1, -1, -1]
        y_true = {
            "boxes": np.array([[_A, _B, pad], [_A, pad, pad]], "float32"),
            "classes": np.array([[0, 1, -1], [0, -1, -1]], "float32"),
            "ignore_boxes": np.array([[pad], [_CROWD]], "float32"),
            "ignore_classes": np.array([[-1], [0]], "float32"),
        }
        y_pred = {
            "boxes": np.array([[_A, _B], [_IN_CROWD, pad]], "float32"),
            "classes": np.array([[0, 0], [0, -1]], "float32"),
            "confidence": np.array([[0.9, 0.8], [0.95, -1]], "float32"),
        }
        batched = metrics.BoxAP()
        batched.update_batch(y_true, y_pred)
        single = metrics.BoxAP()
        single.update_image([_A, _B], [0, 1], [_A, _B], [0, 0], [0.9, 0.8])
        single.update_image(
            [_A],
            [0],
            [_IN_CROWD],
            [0],
            [0.95],
            ignore_boxes=[_CROWD],
            ignore_classes=[0],
        )
        self.assertEqual(batched.result(), single.result())
        # Class 0: gts A, A; TP(0.9), FP(0.8, box B is class 1), the
        # crowd match (0.95) ignored: recall 1/2 at precision 1 -> 51/101.
        # Class 1: one gt, no detection -> 0. Mean: 51/202.
        self.assertAlmostEqual(batched.result()["box_map"], 51 / 202, places=9)

    def test_reset(self):
        ap = metrics.BoxAP()
        ap.update_image([_A], [0], [], [], [])
        ap.reset()
        self.assertEqual(ap.result()["box_map"], -1.0)

    def test_bad_max_detections(self):
        with self.assertRaisesRegex(ValueError, "`max_detections`"):
            metrics.BoxAP(max_detections=0)


if __name__ == "__main__":
    absltest.main()
