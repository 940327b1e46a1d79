"""Synthesis: photos from labels with a trained model, written as data.

`sampling` writes a photo for every label of a split (`sample_split`), `augment` a labelled
synthetic training set (`augment_dataset`), `transfer` the content of one photo under another
label (`content_transfer`, paper section 5.4). Below them: `generation` (calling a model: device,
dtype, side input, temperatures), `seeds` (noise tied to the data, not to the loop), `splits`
(opening a split and reading it in order), `images` (8-bit conversion and Cityscapes file names)
and `sheet` (the column layout every figure uses).
"""

from fullglow.synthesis.augment import AugmentSummary, augment_dataset
from fullglow.synthesis.sampling import SamplingSummary, sample_split
from fullglow.synthesis.sheet import FigureColumn, compose_figure
from fullglow.synthesis.splits import open_dataset_split
from fullglow.synthesis.transfer import content_transfer, transfer_files

__all__ = [
    "AugmentSummary",
    "FigureColumn",
    "SamplingSummary",
    "augment_dataset",
    "compose_figure",
    "content_transfer",
    "open_dataset_split",
    "sample_split",
    "transfer_files",
]
