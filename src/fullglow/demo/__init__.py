"""`fullglow demo`: the whole pipeline on generated data, in minutes on a laptop CPU.

`run_demo(DemoConfig(), out_dir)` generates a street-scene dataset, trains the evaluator and a
small Full-Glow (and the baselines), evaluates them against the same model untrained, and writes
`out_dir/report.html`; `write_report(out_dir)` rebuilds the report from what is done.
"""

from fullglow.demo.config import BASELINES, DemoConfig, DemoModel
from fullglow.demo.pipeline import DemoResult, run_demo
from fullglow.demo.report import write_report
from fullglow.demo.results import DemoMetrics, Headline

__all__ = [
    "BASELINES",
    "DemoConfig",
    "DemoModel",
    "DemoMetrics",
    "DemoResult",
    "Headline",
    "run_demo",
    "write_report",
]
