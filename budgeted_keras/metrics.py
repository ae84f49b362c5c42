"""The standard metrics of the tasks: top-k accuracy, mean IoU, box AP.

- `SparseTopKAccuracy`: Keras' top-k accuracy, also under mixed precision.
- `mean_iou`: Keras' `MeanIoU` over a label map, with pixels of an ignore
  label left out; `iou_per_class` reads the per-class table from its
  confusion matrix.
- `BoxAP`: COCO's box average precision (mAP@[.5:.95], mAP@.5, mAP@.75),
  computed on numpy as `pycocotools.cocoeval.COCOeval` does it for the
  "all" area range and at most 100 detections per image and class.
  KerasCV's `BoxCOCOMetrics` wraps pycocotools, which this project does not
  depend on, so the computation is written out here.
"""

import keras
import numpy as np

from budgeted_keras import _checks

IGNORE_LABEL = 255
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def mean_iou(num_classes, *, ignore_label=IGNORE_LABEL, name="mean_iou"):
    """Mean intersection over union of a segmentation, for `compile`.

    The IoU of class `c` is `TP / (TP + FP + FN)` over all pixels seen,
    where a pixel's prediction is the argmax of `y_pred`; pixels whose label
    is `ignore_label` count nowhere (neither as truth nor as prediction).
    The mean is over the classes that occur in the labels or predictions
    (a class absent from both has no IoU and is left out).

    Args:
        num_classes: Python int >= 2.
        ignore_label: Optional Python int. Label of pixels to leave out
            (255 by default, as in Cityscapes' train ids); None keeps all.
        name: Python str. The metric's name in `logs`.

    Returns:
        A `keras.metrics.MeanIoU` taking integer labels `(..., H, W[, 1])`
        and class scores `(..., H, W, num_classes)`.
    """
    num_classes = _checks.integer("num_classes", num_classes, minimum=2)
    if ignore_label is not None:
        ignore_label = _checks.integer("ignore_label", ignore_label, minimum=0)
    return keras.metrics.MeanIoU(
        num_classes,
        name=name,
        ignore_class=ignore_label,
        sparse_y_true=True,
        sparse_y_pred=False,
    )


@keras.saving.register_keras_serializable(package="budgeted_keras")
class SparseTopKAccuracy(keras.metrics.SparseTopKCategoricalAccuracy):
    """Top-k accuracy of integer labels, under any dtype policy.

    Keras' `SparseTopKCategoricalAccuracy`, with the predictions cast to
    float32 first: TensorFlow's `in_top_k` takes float32 only, so the
    float16/bfloat16 logits of a mixed-precision model would fail.

    Args:
        k: Python int >= 1. A prediction counts if the label is among its
            `k` highest scores (with fewer than `k` classes, always).
        name: Python str. The metric's name in `logs`.
    """

    def __init__(self, k=5, name="top5_accuracy", **kwargs):
        super().__init__(k=k, name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(
            y_true, keras.ops.cast(y_pred, "float32"), sample_weight
        )


def iou_per_class(confusion):
    """Per-class IoU from a confusion matrix (rows: truth, columns: pred).

    Args:
        confusion: Array-like `(C, C)` of counts, such as
            `mean_iou(...).total_cm`.

    Returns:
        numpy float64 array `(C,)`: `TP / (TP + FP + FN)` per class, NaN
        for a class absent from both truth and predictions.
    """
    confusion = np.asarray(confusion, dtype="float64")
    true_positives = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - true_positives
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, true_positives / union, np.nan)


def box_iou(boxes, others, *, crowd=None):
    """IoU of every box in `boxes` with every box in `others` (xyxy).

    Args:
        boxes: numpy array `(N, 4)` of `(x1, y1, x2, y2)`.
        others: numpy array `(M, 4)`, same format.
        crowd: Optional bool array `(M,)`. For a crowd region the overlap
            is divided by the area of the box from `boxes` instead of the
            union, as COCO does.

    Returns:
        numpy float64 array `(N, M)`.
    """
    boxes = np.asarray(boxes, "float64").reshape(-1, 4)
    others = np.asarray(others, "float64").reshape(-1, 4)
    width = np.minimum(boxes[:, None, 2], others[None, :, 2]) - np.maximum(
        boxes[:, None, 0], others[None, :, 0]
    )
    height = np.minimum(boxes[:, None, 3], others[None, :, 3]) - np.maximum(
        boxes[:, None, 1], others[None, :, 1]
    )
    # Non-finite boxes (an untrained detector's) get IoU 0, quietly.
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        inter = np.clip(width, 0, None) * np.clip(height, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        other_area = (others[:, 2] - others[:, 0]) * (
            others[:, 3] - others[:, 1]
        )
        union = area[:, None] + other_area[None, :] - inter
        if crowd is not None:
            crowd = np.asarray(crowd, bool).reshape(-1)
            union = np.where(crowd[None, :], area[:, None], union)
        iou = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(iou, nan=0.0, posinf=0.0, neginf=0.0)


class BoxAP:
    """COCO-style box average precision, accumulated image by image.

    For each class and IoU threshold t in 0.50, 0.55, ..., 0.95 (COCO's
    `np.linspace(.5, .95, 10)`): the detections of an image (at most
    `max_detections` per class, highest scores first) are matched greedily
    in score order to the unmatched ground-truth box of highest IoU >= t;
    a match is a true positive, an unmatched detection a false positive,
    and a detection matched to an ignored region (a crowd or "difficult"
    box) counts as neither. Over all images, precision is made monotone
    (the best precision at any higher recall) and read at the 101 recall
    points 0, 0.01, ..., 1 (0 past the highest recall reached). AP is the
    mean over recall points, thresholds and the classes that have at least
    one non-ignored ground-truth box; a class with ground truth but no
    detections counts as 0, and classes with detections only are left out.
    Only the "all" area range is computed.

    Example:

    >>> ap = BoxAP()
    >>> ap.update_image([[0, 0, 10, 10]], [1], [[0, 0, 10, 10]], [1], [0.9])
    >>> ap.result()["box_map"]
    1.0

    Reference: the COCO detection evaluation (`pycocotools.cocoeval`).
    """

    def __init__(self, *, max_detections=100):
        self.max_detections = _checks.integer("max_detections", max_detections)
        self.reset()

    def reset(self):
        """Forgets every image seen."""
        # class -> lists of per-image (scores, matched, ignored, n_gt).
        self._per_class = {}

    def update_image(
        self,
        gt_boxes,
        gt_classes,
        det_boxes,
        det_classes,
        det_scores,
        *,
        ignore_boxes=None,
        ignore_classes=None,
        crowd=True,
    ):
        """Adds one image's ground truth and detections.

        Args:
            gt_boxes: Array-like `(G, 4)` of xyxy boxes.
            gt_classes: Array-like `(G,)` of class ids.
            det_boxes: Array-like `(D, 4)` of xyxy boxes.
            det_classes: Array-like `(D,)` of class ids.
            det_scores: Array-like `(D,)` of confidences.
            ignore_boxes: Optional array-like `(K, 4)`: regions a detection
                may match without counting (COCO crowds, VOC "difficult").
            ignore_classes: Array-like `(K,)`, their classes.
            crowd: Python bool. Whether ignored regions are crowds, whose
                IoU is overlap / detection area (COCO); else plain IoU.
        """
        gt_boxes = np.asarray(gt_boxes, "float64").reshape(-1, 4)
        gt_classes = np.asarray(gt_classes).reshape(-1)
        ignored = np.zeros(len(gt_boxes), bool)
        if ignore_boxes is not None:
            ignore_boxes = np.asarray(ignore_boxes, "float64").reshape(-1, 4)
            gt_boxes = np.concatenate([gt_boxes, ignore_boxes])
            gt_classes = np.concatenate(
                [gt_classes, np.asarray(ignore_classes).reshape(-1)]
            )
            ignored = np.concatenate(
                [ignored, np.ones(len(ignore_boxes), bool)]
            )
        det_boxes = np.asarray(det_boxes, "float64").reshape(-1, 4)
        det_classes = np.asarray(det_classes).reshape(-1)
        det_scores = np.asarray(det_scores, "float64").reshape(-1)
        for c in np.union1d(gt_classes, det_classes):
            g = gt_classes == c
            d = det_classes == c
            entry = self._match(
                gt_boxes[g],
                ignored[g],
                det_boxes[d],
                det_scores[d],
                crowd=ignored[g] & crowd,
            )
            self._per_class.setdefault(int(c), []).append(entry)

    def update_batch(self, y_true, y_pred, **kwargs):
        """Adds a batch of padded KerasCV box dictionaries.

        Args:
            y_true: Dict with `"boxes"` `(B, G, 4)` and `"classes"` `(B, G)`;
                entries with class -1 are padding. Optional
                `"ignore_boxes"` `(B, K, 4)` and `"ignore_classes"` `(B, K)`
                (-1 padding) name ignored regions.
            y_pred: Dict with `"boxes"` `(B, D, 4)`, `"classes"` `(B, D)`
                and `"confidence"` `(B, D)`; class -1 is padding.
            **kwargs: Passed on to `update_image` (`crowd`).
        """
        true = {k: np.asarray(v) for k, v in y_true.items()}
        pred = {k: np.asarray(v) for k, v in y_pred.items()}
        for i in range(len(true["classes"])):
            keep = true["classes"][i] >= 0
            found = pred["classes"][i] >= 0
            ignore = {}
            if "ignore_classes" in true:
                kept = true["ignore_classes"][i] >= 0
                ignore = dict(
                    ignore_boxes=true["ignore_boxes"][i][kept],
                    ignore_classes=true["ignore_classes"][i][kept],
                )
            self.update_image(
                true["boxes"][i][keep],
                true["classes"][i][keep],
                pred["boxes"][i][found],
                pred["classes"][i][found],
                pred["confidence"][i][found],
                **ignore,
                **kwargs,
            )

    def _match(self, gt_boxes, gt_ignored, det_boxes, det_scores, crowd):
        # Ground truth: non-ignored first; detections: best first (stable).
        g_order = np.argsort(gt_ignored, kind="mergesort")
        gt_boxes, gt_ignored = gt_boxes[g_order], gt_ignored[g_order]
        crowd = crowd[g_order]
        d_order = np.argsort(-det_scores, kind="mergesort")
        d_order = d_order[: self.max_detections]
        det_boxes, det_scores = det_boxes[d_order], det_scores[d_order]
        ious = box_iou(det_boxes, gt_boxes, crowd=crowd)
        num_t = len(IOU_THRESHOLDS)
        matched = np.zeros((num_t, len(det_boxes)), bool)
        ignored = np.zeros((num_t, len(det_boxes)), bool)
        for t, threshold in enumerate(IOU_THRESHOLDS):
            taken = np.zeros(len(gt_boxes), bool)
            for d in range(len(det_boxes)):
                best, m = min(threshold, 1 - 1e-10), -1
                for g in range(len(gt_boxes)):
                    if taken[g] and not crowd[g]:
                        continue
                    if m > -1 and not gt_ignored[m] and gt_ignored[g]:
                        break
                    if ious[d, g] < best:
                        continue
                    best, m = ious[d, g], g
                if m > -1:
                    matched[t, d], ignored[t, d] = True, gt_ignored[m]
                    taken[m] = True
        return det_scores, matched, ignored, int(np.sum(~gt_ignored))

    def precision(self):
        """Interpolated precision `(thresholds, 101, classes)`, class ids.

        Returns:
            A pair: numpy array of precision at each IoU threshold, recall
            point and class (-1 for a class without non-ignored ground
            truth), and the sorted list of class ids of its last axis.
        """
        classes = sorted(self._per_class)
        table = -np.ones(
            (len(IOU_THRESHOLDS), len(RECALL_POINTS), len(classes))
        )
        for k, c in enumerate(classes):
            entries = self._per_class[c]
            num_gt = sum(e[3] for e in entries)
            if num_gt == 0:
                continue
            scores = np.concatenate([e[0] for e in entries])
            order = np.argsort(-scores, kind="mergesort")
            matched = np.concatenate([e[1] for e in entries], 1)[:, order]
            ignored = np.concatenate([e[2] for e in entries], 1)[:, order]
            tps = np.cumsum(matched & ~ignored, 1, dtype="float64")
            fps = np.cumsum(~matched & ~ignored, 1, dtype="float64")
            for t in range(len(IOU_THRESHOLDS)):
                table[t, :, k] = _interpolate(tps[t], fps[t], num_gt)
        return table, classes

    def result(self):
        """The APs: `box_map` (mAP@[.5:.95]), `box_map_50`, `box_map_75`.

        Each is -1.0 when no class has non-ignored ground truth, as in COCO.
        """
        table, _ = self.precision()

        def mean(values):
            values = values[values > -1]
            return float(np.mean(values)) if values.size else -1.0

        return {
            "box_map": mean(table),
            "box_map_50": mean(table[0]),
            "box_map_75": mean(table[5]),
        }


def _interpolate(tps, fps, num_gt):
    """Precision at the 101 recall points, monotone, 0 past the last."""
    recall = tps / num_gt
    precision = tps / (fps + tps + np.spacing(1))
    # Precision at recall r: the best precision at any recall >= r.
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    index = np.searchsorted(recall, RECALL_POINTS, side="left")
    out = np.zeros(len(RECALL_POINTS))
    valid = index < len(precision)
    out[valid] = precision[index[valid]]
    return out
