"""Scoring as the paper does (section 5): conditional bits per dimension, the segmenter's scores on
samples over rounds and temperatures, Tables 1 and 2, comparisons of runs, and figures of the
samples that were scored.

`evaluate` runs one model (`evaluate_model`, `evaluate_run`, `score_saved_samples`) with the FCN
scores of `fullglow.metrics`; `bpd` is the held-out conditional BPD; `report` the typed results and
their `metrics.json`; `tables` the Markdown tables; `compare` Table 1 across runs; `figures` the
paper's Figure 2 and each run's `samples.png`.
"""

from fullglow.evaluation.bpd import BpdResult, conditional_bpd
from fullglow.evaluation.compare import Comparison, compare_runs
from fullglow.evaluation.evaluate import (
    EvaluationSettings,
    evaluate_model,
    evaluate_run,
    read_evaluation,
    score_saved_samples,
    write_evaluation,
)
from fullglow.evaluation.figures import model_column, real_columns, temperatures_figure
from fullglow.evaluation.report import EvaluationReport, RoundScores, TemperatureResult
from fullglow.evaluation.tables import table1, table2

__all__ = [
    "BpdResult",
    "Comparison",
    "EvaluationReport",
    "EvaluationSettings",
    "RoundScores",
    "TemperatureResult",
    "compare_runs",
    "conditional_bpd",
    "evaluate_model",
    "evaluate_run",
    "model_column",
    "read_evaluation",
    "real_columns",
    "score_saved_samples",
    "table1",
    "table2",
    "temperatures_figure",
    "write_evaluation",
]
