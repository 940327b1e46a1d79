"""Evaluation: bits per dimension, segmentation scores, the segmenter, sampling rounds, tables,
figures."""

from fullglow.evaluation.augment import AugmentSummary, augment_dataset
from fullglow.evaluation.compare import Comparison, compare_runs
from fullglow.evaluation.evaluate import (
    EvaluationSettings,
    evaluate_model,
    evaluate_run,
    read_report,
    score_saved_samples,
    write_report,
)
from fullglow.evaluation.figures import (
    FigureColumn,
    compose_figure,
    model_column,
    real_columns,
    temperatures_figure,
)
from fullglow.evaluation.likelihood import BpdResult, conditional_bpd
from fullglow.evaluation.report import EvaluationReport, RoundScores, TemperatureResult
from fullglow.evaluation.runs import LoadedRun, load_run
from fullglow.evaluation.sampling import SamplingSummary, open_split, sample_split
from fullglow.evaluation.tables import table1, table2
from fullglow.evaluation.transfer import content_transfer, transfer_files

__all__ = [
    "AugmentSummary",
    "BpdResult",
    "Comparison",
    "EvaluationReport",
    "EvaluationSettings",
    "FigureColumn",
    "LoadedRun",
    "RoundScores",
    "SamplingSummary",
    "TemperatureResult",
    "augment_dataset",
    "compare_runs",
    "compose_figure",
    "conditional_bpd",
    "content_transfer",
    "evaluate_model",
    "evaluate_run",
    "load_run",
    "model_column",
    "open_split",
    "read_report",
    "real_columns",
    "sample_split",
    "score_saved_samples",
    "table1",
    "table2",
    "temperatures_figure",
    "transfer_files",
    "write_report",
]
