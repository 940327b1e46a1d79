"""The augmentation study: does a generator's synthetic data make a segmenter better?

`run_study` splits a dataset's train frames into a real set R and a label pool U, trains the
generators on R, synthesizes photos for U's labels under each selection rule, trains segmenters on
R alone, on R + each synthetic set and on R + U's real photos (the oracle), and scores them all on
the dataset's val split (see `fullglow.study.pipeline`).
"""

from fullglow.study.config import StudyConfig
from fullglow.study.pipeline import StudyResult, run_study

__all__ = ["StudyConfig", "StudyResult", "run_study"]
