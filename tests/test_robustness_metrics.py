"""The mean IoU follows the FCN code and cityscapesScripts: every class with a non-empty union."""

from __future__ import annotations

import math

import pytest
import torch

from fullglow.metrics import SegmentationScores


def test_a_class_predicted_but_not_labelled_counts_with_iou_zero():
    # rows = ground truth, columns = prediction. Class 2 is predicted (2 pixels) but never
    # labelled; class 3 is neither labelled nor predicted.
    conf = torch.tensor(
        [
            [3, 1, 1, 0],
            [0, 4, 1, 0],
            [0, 0, 0, 0],
            [0, 0, 0, 0],
        ]
    )
    scores = SegmentationScores.from_confusion(conf)
    # IoU_0 = 3 / (5 + 3 - 3), IoU_1 = 4 / (5 + 5 - 4), IoU_2 = 0 / (0 + 2 - 0), class 3: 0/0.
    iou = [3 / 5, 4 / 6, 0.0]
    assert scores.per_class_iou[:3].tolist() == pytest.approx(iou)
    assert math.isnan(float(scores.per_class_iou[3]))
    assert scores.mean_iou == pytest.approx(sum(iou) / 3)
    # Class accuracy stays over the labelled classes: 3/5 and 4/5.
    assert scores.class_accuracy == pytest.approx((3 / 5 + 4 / 5) / 2)
    assert math.isnan(float(scores.per_class_accuracy[2]))
    assert scores.pixel_accuracy == pytest.approx(7 / 10)
