"""The evaluator network: a PSPNet-style segmenter that scores synthesized photos (paper, section 5).

`network` holds the network (`PSPNet`, `SegmenterConfig`, `predict`, `evaluate_segmenter`),
`training` trains it from scratch on real photos (`train_segmenter`), and `loading` saves, loads and
checks segmenters: our own folders, or any network exported with `torch.export` or TorchScript.
"""

from fullglow.segmenter.loading import check_segmenter, load_segmenter, save_segmenter
from fullglow.segmenter.network import PSPNet, SegmenterConfig, evaluate_segmenter, predict
from fullglow.segmenter.training import SegmenterReport, train_segmenter

__all__ = [
    "PSPNet",
    "SegmenterConfig",
    "SegmenterReport",
    "check_segmenter",
    "evaluate_segmenter",
    "load_segmenter",
    "predict",
    "save_segmenter",
    "train_segmenter",
]
