"""The built-in street-scene generator: procedural label maps and photos in the Cityscapes layout.

`render_frame` makes one frame in memory; `synthesize_dataset` writes a whole dataset that
`CityscapesDataset` reads like Cityscapes itself.
"""

from fullglow.data.synthetic.dataset import synthesize_dataset
from fullglow.data.synthetic.scene import SyntheticFrame, render_frame

__all__ = ["SyntheticFrame", "render_frame", "synthesize_dataset"]
