"""FCN-paper segmentation scores against confusion matrices and scores worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from fullglow.metrics import SegmentationScores, confusion_matrix


def test_confusion_matrix_hand_computed_with_ignore_pixel():
    target = torch.tensor([[0, 0, 1], [1, 2, 255]])
    pred = torch.tensor([[0, 1, 1], [2, 2, 0]])  # the last prediction sits on an ignore pixel
    conf = confusion_matrix(pred, target, num_classes=3)
    assert conf.dtype == torch.int64
    assert conf.tolist() == [[1, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_scores_hand_computed():
    conf = torch.tensor([[1, 1, 0], [0, 1, 1], [0, 0, 1]])
    scores = SegmentationScores.from_confusion(conf)
    assert scores.pixel_accuracy == pytest.approx(3 / 5)
    assert scores.class_accuracy == pytest.approx((1 / 2 + 1 / 2 + 1) / 3)
    # IoU_i = n_ii / (t_i + sum_j n_ji - n_ii): 1/(2+1-1), 1/(2+2-1), 1/(1+2-1)
    assert scores.per_class_iou.tolist() == pytest.approx([1 / 2, 1 / 3, 1 / 2])
    assert scores.per_class_accuracy.tolist() == pytest.approx([1 / 2, 1 / 2, 1])
    assert scores.mean_iou == pytest.approx(4 / 9)
    assert scores.summary() == "pixel acc 60.00%, class acc 66.67%, mIoU 44.44%"
    assert scores.means() == pytest.approx(
        {"pixel_accuracy": 3 / 5, "class_accuracy": 2 / 3, "mean_iou": 4 / 9}
    )


def test_absent_classes_are_left_out_of_the_means_unless_predicted():
    # Class 2 never occurs; class 3 is predicted once but is absent from the labels: its IoU is 0
    # (FCN code, cityscapesScripts), while its accuracy is undefined.
    target = torch.tensor([0, 0, 1, 1])
    pred = torch.tensor([0, 3, 1, 1])
    conf = confusion_matrix(pred, target, num_classes=4)
    assert conf.tolist() == [[1, 0, 0, 1], [0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    scores = SegmentationScores.from_confusion(conf)
    assert scores.pixel_accuracy == pytest.approx(3 / 4)
    assert scores.class_accuracy == pytest.approx((1 / 2 + 1) / 2)
    assert scores.mean_iou == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert scores.per_class_iou[:2].tolist() == pytest.approx([1 / 2, 1])
    assert math.isnan(float(scores.per_class_iou[2]))
    assert float(scores.per_class_iou[3]) == 0.0
    assert all(math.isnan(v) for v in scores.per_class_accuracy[2:].tolist())


def test_perfect_prediction_scores_one_everywhere():
    target = torch.randint(0, 19, (2, 16, 24))
    target[0, :4] = 255
    pred = target.clone()
    pred[target == 255] = 7  # whatever is predicted on ignore pixels does not count
    scores = SegmentationScores.from_confusion(confusion_matrix(pred, target))
    assert scores.pixel_accuracy == scores.class_accuracy == scores.mean_iou == 1.0
    present = ~scores.per_class_iou.isnan()
    assert present.sum() == 19
    assert torch.all(scores.per_class_iou[present] == 1.0)


def test_batches_accumulate_to_one_big_confusion():
    target = torch.randint(0, 20, (6, 8, 10))
    target[target == 19] = 255
    pred = torch.randint(0, 19, (6, 8, 10))
    parts = sum(confusion_matrix(pred[i : i + 2], target[i : i + 2]) for i in range(0, 6, 2))
    whole = confusion_matrix(pred, target)
    assert torch.equal(parts, whole)
    assert whole.sum() == (target != 255).sum()
    # Row sums are the ground-truth pixel counts, column sums the predicted ones.
    assert whole.sum(dim=1).tolist() == [int((target == k).sum()) for k in range(19)]


def test_out_of_range_prediction_raises_but_not_on_ignore_pixels():
    target = torch.tensor([0, 1, 255])
    with pytest.raises(ValueError, match="outside 0..18"):
        confusion_matrix(torch.tensor([0, 19, 0]), target)
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(torch.tensor([-1, 0, 0]), target)
    assert confusion_matrix(torch.tensor([0, 1, 19]), target).trace() == 2


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="no labelled pixel"):
        SegmentationScores.from_confusion(torch.zeros(19, 19, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        confusion_matrix(torch.zeros(4), torch.zeros(4, dtype=torch.long))
