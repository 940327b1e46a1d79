"""Semantic segmentation scores of the FCN paper (Long et al. 2015, section 5), as pure functions.

With `n_ij` the number of pixels of ground-truth class `i` predicted as class `j` (the confusion
matrix, rows = ground truth), `t_i = sum_j n_ij` the pixels of class `i`, and `n_cl` the number of
classes scored:

    pixel accuracy       = sum_i n_ii / sum_i t_i
    mean class accuracy  = (1/n_cl) sum_i n_ii / t_i
    mean IU              = (1/n_cl) sum_i n_ii / (t_i + sum_j n_ji - n_ii)

The mean IU runs over every class whose union is not empty (`t_i + sum_j n_ji - n_ii > 0`), as
the FCN reference code (`nanmean`) and cityscapesScripts compute it: a class predicted somewhere but
absent from the labels counts with IoU 0, so false positives of a class the images do not show pull
the mean down. Only classes neither labelled nor predicted (0/0) are left out. The mean class
accuracy runs over the classes present in the ground truth (`t_i > 0`): a class with no labelled
pixel has no accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from fullglow.data.labels import IGNORE_INDEX, NUM_CLASSES


def confusion_matrix(
    pred: Tensor, target: Tensor, num_classes: int = NUM_CLASSES, ignore_index: int = IGNORE_INDEX
) -> Tensor:
    """Count `n_ij`, the pixels of ground-truth class `i` predicted as class `j`.

    Args:
        pred: predicted class ids, any shape (e.g. `(B, H, W)`), integer.
        target: ground-truth class ids of the same shape; `ignore_index` marks unlabelled pixels,
            whose predictions are dropped.
        num_classes: `K`, the number of classes.
        ignore_index: the label of pixels that are not scored.

    Returns:
        `(K, K)` int64 matrix on `target`'s device, rows = ground truth, columns = prediction.
        Matrices of several batches add up to the matrix of all of them.

    Raises:
        ValueError: shapes differ, or a scored pixel has a class outside `0..K-1` (prediction or
            ground truth).
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} != target {tuple(target.shape)}")
    if pred.is_floating_point() or target.is_floating_point():
        raise ValueError("confusion_matrix needs integer class ids, not floating-point tensors")
    target = target.reshape(-1).long()
    pred = pred.reshape(-1).long().to(target.device)
    scored = target != ignore_index
    target, pred = target[scored], pred[scored]
    for name, ids in (("predicted", pred), ("ground-truth", target)):
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= num_classes):
            bad = ids[(ids < 0) | (ids >= num_classes)].unique()[:5].tolist()
            raise ValueError(
                f"{name} class ids {bad} are outside 0..{num_classes - 1} "
                f"(and are not the ignore index {ignore_index})"
            )
    counts = torch.bincount(target * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


@dataclass(frozen=True)
class SegmentationScores:
    """The FCN paper's scores of one confusion matrix (fractions in [0, 1], not percentages).

    Attributes:
        pixel_accuracy: `sum_i n_ii / sum_i t_i`.
        class_accuracy: mean over present classes of `n_ii / t_i`.
        mean_iou: mean over classes with a non-empty union of `n_ii / (t_i + sum_j n_ji - n_ii)`.
        per_class_accuracy: `(K,)` float64, `n_ii / t_i`; NaN for classes absent from the labels.
        per_class_iou: `(K,)` float64, each class's IoU; 0 for a class predicted but absent from
            the labels, NaN for a class neither labelled nor predicted.
    """

    pixel_accuracy: float
    class_accuracy: float
    mean_iou: float
    per_class_accuracy: Tensor
    per_class_iou: Tensor

    @classmethod
    def from_confusion(cls, conf: Tensor) -> SegmentationScores:
        """Scores of a `(K, K)` confusion matrix (rows = ground truth), see the module docstring.

        Raises:
            ValueError: the matrix is not square, or it holds no labelled pixel at all.
        """
        if conf.dim() != 2 or conf.shape[0] != conf.shape[1]:
            raise ValueError(f"a confusion matrix is (K, K), got shape {tuple(conf.shape)}")
        conf = conf.detach().to("cpu", torch.float64)
        hits = conf.diagonal()
        truth = conf.sum(dim=1)  # t_i
        if truth.sum() == 0:
            raise ValueError("the confusion matrix holds no labelled pixel: nothing to score")
        present = truth > 0
        union = truth + conf.sum(dim=0) - hits
        seen = union > 0  # labelled or predicted
        nan = torch.full_like(hits, float("nan"))
        per_class_accuracy = torch.where(present, hits / truth.clamp(min=1), nan)
        per_class_iou = torch.where(seen, hits / union.clamp(min=1), nan)
        return cls(
            pixel_accuracy=float(hits.sum() / truth.sum()),
            class_accuracy=float(per_class_accuracy[present].mean()),
            mean_iou=float(per_class_iou[seen].mean()),
            per_class_accuracy=per_class_accuracy,
            per_class_iou=per_class_iou,
        )

    def means(self) -> dict[str, float]:
        """The three means by name, for JSON files."""
        return {
            "pixel_accuracy": self.pixel_accuracy,
            "class_accuracy": self.class_accuracy,
            "mean_iou": self.mean_iou,
        }

    def summary(self) -> str:
        """The three means in percent: `pixel acc 95.97%, class acc 84.31%, mIoU 77.30%`."""
        return (
            f"pixel acc {100 * self.pixel_accuracy:.2f}%, "
            f"class acc {100 * self.class_accuracy:.2f}%, mIoU {100 * self.mean_iou:.2f}%"
        )
