"""The one-screen terminal summary of a demo run."""

from __future__ import annotations

from fullglow.demo.pipeline import DemoResult
from fullglow.evaluation.tables import bpd_cell


def summary_text(result: DemoResult) -> str:
    """Stage timings, the trained-versus-untrained mIoU, BPD and the report's path."""
    metrics = result.metrics
    head = metrics.headline()
    name = metrics.trained[0].entry.title
    rows = [
        (f"trained {name}", head.trained_miou),
        (f"untrained {name} (step 0)", head.untrained_miou),
    ]
    for other in metrics.trained[1:]:
        at = other.report.at(head.temperature)
        if at is not None:
            rows.append((other.entry.title, at.mean_iou.mean))
    rows.append(("real photos (ceiling)", head.ground_truth_miou))
    width = max(28, *(len(label) for label, _ in rows))  # the percentages start with a space
    lines = [
        f"Full-Glow demo: {result.seconds / 60:.1f} min in this run, report {result.report_path}",
        "",
        f"  {'stage':<22}{'time':>8}  note",
    ]
    lines += [f"  {s.name:<22}{s.seconds:>7.0f}s  {s.note}" for s in result.stages]
    lines += [
        "",
        f"  segmenter mIoU on {metrics.fullglow.n_images} val labels, samples at T = {head.temperature}:",
    ]
    lines += [f"    {label:<{width}}{100 * miou:6.1f}%" for label, miou in rows]
    lines += [
        f"  conditional BPD (val): {bpd_cell(metrics.fullglow.bpd)} trained, "
        f"{bpd_cell(metrics.untrained.bpd)} untrained",
        "",
        f"Open {result.report_path} in a browser.",
    ]
    return "\n".join(lines) + "\n"
