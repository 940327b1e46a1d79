"""The one-screen terminal summary of a demo run."""

from __future__ import annotations

from fullglow.demo.pipeline import DemoResult
from fullglow.evaluation.tables import bpd_cell
from fullglow.training.runs import display_name


def summary_text(result: DemoResult) -> str:
    """Stage timings, the trained-versus-untrained mIoU, BPD and the report's path."""
    metrics = result.metrics
    head = metrics.headline()
    lines = [
        f"Full-Glow demo: {result.seconds / 60:.1f} min in this run, report {result.report_path}",
        "",
        f"  {'stage':<22}{'time':>8}  note",
    ]
    lines += [f"  {s.name:<22}{s.seconds:>7.0f}s  {s.note}" for s in result.stages]
    lines += [
        "",
        f"  segmenter mIoU on {metrics.fullglow.n_images} val labels, samples at T = {head.temperature}:",
        f"    {'trained Full-Glow':<28}{100 * head.trained_miou:6.1f}%",
        f"    {'untrained Full-Glow (step 0)':<28}{100 * head.untrained_miou:6.1f}%",
    ]
    for report in metrics.trained[1:]:
        result_t = report.at(head.temperature)
        if result_t is not None:
            lines.append(
                f"    {display_name(report.model):<28}{100 * result_t.mean_iou.mean:6.1f}%"
            )
    lines += [
        f"    {'real photos (ceiling)':<28}{100 * head.ground_truth_miou:6.1f}%",
        f"  conditional BPD (val): {bpd_cell(metrics.fullglow.bpd)} trained, "
        f"{bpd_cell(metrics.untrained.bpd)} untrained",
        "",
        f"Open {result.report_path} in a browser.",
    ]
    return "\n".join(lines) + "\n"
