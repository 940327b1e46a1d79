"""Datasets of (photo, colour label map, train ids, instance boundaries) samples.

- `CityscapesDataset`: Cityscapes in its official layout, or what `synthesize_dataset` writes.
- `PairedFolderDataset`: pix2pix-style paired images (aligned `A|B`, or folders `A/` and `B/`).
- `synthesize_dataset`: the built-in procedural street-scene generator.
- `import_aligned_pairs`: pix2pix's aligned Cityscapes (photo | JPEG colour label) written as the
  official layout, with class ids snapped from the colours (`fullglow.data.palette_snap`).

All yield `Sample`s; `fullglow.data.labels` holds the official label table and its look-ups.
"""

from fullglow.data.cityscapes import CityscapesDataset, CityscapesRecord
from fullglow.data.item import Sample
from fullglow.data.labels import IGNORE_INDEX, NUM_CLASSES
from fullglow.data.paired import PairedFolderDataset, PairedRecord
from fullglow.data.pix2pix_import import import_aligned_pairs
from fullglow.data.resizing import validate_image_size
from fullglow.data.synthetic import synthesize_dataset

__all__ = [
    "IGNORE_INDEX",
    "NUM_CLASSES",
    "CityscapesDataset",
    "CityscapesRecord",
    "PairedFolderDataset",
    "PairedRecord",
    "Sample",
    "import_aligned_pairs",
    "synthesize_dataset",
    "validate_image_size",
]
