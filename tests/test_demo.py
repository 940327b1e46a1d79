"""`fullglow demo` end to end at a tiny size, its resumption and refusals, and the SVG charts."""

from __future__ import annotations

import base64
import io
import json
import re
import xml.etree.ElementTree as ET
from html import escape
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fullglow.cli import main
from fullglow.demo import BASELINES, DemoConfig, run_demo
from fullglow.demo import pipeline as demo_pipeline
from fullglow.demo.config import GRID_TEMPERATURES
from fullglow.demo.folder import MARKER_FILE
from fullglow.demo.results import FORMAT_V1, METRICS_FILE, TRANSFER_IMAGES, read_demo_metrics
from fullglow.demo.svg import Series, line_chart, nice_ticks
from fullglow.errors import UserInputError
from fullglow.evaluation.report import METRICS
from fullglow.layers.coupling import coupling_name
from fullglow.models.registry import build_config
from fullglow.training.config import read_config
from fullglow.training.runs import load_run

TINY = DemoConfig(
    image_size=(16, 32),
    preset="tiny",
    minutes=10.0,  # not binding: training stops after max_steps, so the test is deterministic
    n_train=16,
    n_val=4,
    batch_size=4,
    max_steps=20,
    segmenter_steps=15,
    n_grid=2,
    temperatures=(0.0, 0.7, 0.8, 1.0),
    device="cpu",
    threads=1,  # tiny tensors: one thread is fastest, and immune to a busy machine
)


def _stages(out: Path) -> dict[str, dict]:
    return {s["name"]: s for s in json.loads((out / MARKER_FILE).read_text())["stages"]}


def _data_uris(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


@pytest.mark.slow
def test_demo_runs_resumes_after_interrupt_and_reports(tmp_path, monkeypatch):
    out = tmp_path / "demo"

    # Run 1: Ctrl-C during the evaluation; the finished stages and a partial report remain.
    def interrupted(self):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(demo_pipeline._Demo, "evaluate", interrupted)
        with pytest.raises(KeyboardInterrupt):
            run_demo(TINY, out)
    before = _stages(out)
    assert [before[s]["done"] for s in ("data", "segmenter", "train-fullglow")] == [True] * 3
    assert "evaluate" not in before
    partial = (out / "report.html").read_text()
    assert "partial" in partial and "Not done yet" in partial

    # Run 2 resumes: earlier stages are skipped (their times unchanged), the evaluation runs.
    checkpoints = sorted((out / "runs" / "fullglow" / "checkpoints").iterdir())
    result = run_demo(TINY, out)
    after = _stages(out)
    for name in ("data", "segmenter", "train-fullglow"):
        assert after[name] == before[name]
    assert sorted((out / "runs" / "fullglow" / "checkpoints").iterdir()) == checkpoints
    assert after["evaluate"]["done"]
    assert after["train-fullglow"]["note"].startswith("20 steps")

    # The metrics file is complete and the headline numbers are the report's.
    metrics = read_demo_metrics(out / "eval")
    assert metrics == result.metrics
    for report in (metrics.fullglow, metrics.untrained):
        assert [t.temperature for t in report.temperatures] == list(TINY.temperatures)
        assert report.n_images == TINY.n_val and np.isfinite(report.bpd)
        for t in report.temperatures:
            assert all(0.0 <= t.stat(m).mean <= 1.0 for m in METRICS)
    # 20 Adam steps lower the conditional BPD of held-out photos below the step-0 model's.
    assert metrics.fullglow.bpd < metrics.untrained.bpd
    head = metrics.headline()
    assert head.temperature == TINY.headline_temperature
    assert head.trained_miou == metrics.fullglow.at(0.8).mean_iou.mean
    assert head.untrained_miou == metrics.untrained.at(0.8).mean_iou.mean

    html = (out / "report.html").read_text()
    assert "partial" not in html
    assert f"{100 * head.trained_miou:.1f}%" in html
    assert f"{100 * head.untrained_miou:.1f}%" in html
    assert html.count("<svg") == 3  # two sweep plots and the loss curve
    images = _data_uris(html)
    n_columns = len(metrics.grid_columns)  # label, real, T = 0.7 / 0.8 / 1.0, untrained
    assert n_columns == 6
    assert len(images) == TINY.n_grid * n_columns + len(TRANSFER_IMAGES)  # grid and transfer
    for png in images:
        assert Image.open(io.BytesIO(png)).size == (32, 16)
    assert not re.search(r'(src|href)="(?!data:)', html)  # self-contained: nothing linked

    # Run 3: everything is done; nothing is redone and the summary is the same.
    again = run_demo(TINY, out)
    assert _stages(out) == after
    assert again.metrics == metrics

    # A folder evaluated before the demo had several Full-Glows (metrics format 1: bare reports)
    # still resumes, to the same metrics and report.
    stored = json.loads((out / "eval" / METRICS_FILE).read_text())
    stored["format"] = FORMAT_V1
    stored["trained"] = [r["report"] for r in stored["trained"]]
    (out / "eval" / METRICS_FILE).write_text(json.dumps(stored))
    assert run_demo(TINY, out).metrics == metrics
    assert (out / "report.html").read_text().split("written")[1:] == html.split("written")[1:]


def test_baselines_train_the_papers_full_glow_beside_the_default(tmp_path):
    # 32x32: the least size pix2pix (16-fold downsampling, a 24-pixel PatchGAN) accepts.
    config = DemoConfig(
        **{**TINY.to_dict(), "baselines": True, "max_steps": 2, "image_size": (32, 32)}
    )
    out = tmp_path / "demo"
    metrics = run_demo(config, out, progress=False).metrics

    # Its own run, from the same seed and settings, with the paper's coupling.
    runs = out / "runs"
    default, paper = read_config(runs / "fullglow"), read_config(runs / "fullglow-paper")
    paper_options = {"coupling": "affine", "scale_floor": 0.0}
    assert default.model_options == {} and paper.model_options == paper_options
    assert paper.seed == default.seed == config.seed
    assert set(default.differences(paper)) <= {"model_options", "time_budget_minutes"}
    preset = build_config("fullglow", "tiny")
    built = load_run(runs / "fullglow", "last").model.config
    assert (built.coupling, built.scale_floor) == (preset.coupling, preset.scale_floor)
    assert (preset.coupling, preset.scale_floor) != ("affine", 0.0)
    paper_built = load_run(runs / "fullglow-paper", "last").model.config
    assert (paper_built.coupling, paper_built.scale_floor) == ("affine", 0.0)
    assert _stages(out)["train-fullglow-paper"]["note"].startswith("2 steps")

    # The grid shows it at each grid temperature right after the default Full-Glow.
    default_title = f"Full-Glow ({coupling_name(preset.coupling, preset.scale_floor)} coupling)"
    paper_title = "Full-Glow (paper's affine coupling)"
    columns = [(c.key, c.title) for c in metrics.grid_columns]
    assert columns == [
        ("label", "label"),
        ("real", "real photo"),
        *((f"fullglow_T{t}", f"{default_title}, T = {t}") for t in GRID_TEMPERATURES),
        *((f"fullglow-paper_T{t}", f"{paper_title}, T = {t}") for t in GRID_TEMPERATURES),
        ("untrained", f"untrained {default_title}, T = 0.8"),
        *((name, c.title) for name, c in zip(BASELINES, metrics.grid_columns[9:], strict=True)),
    ]
    html = (out / "report.html").read_text()
    head = re.search(r'<table class="grid"><tr>(.*?)</tr>', html).group(1)
    assert re.findall(r"<th>(.*?)</th>", head) == [escape(title) for _, title in columns]
    assert len(_data_uris(html)) == config.n_grid * len(columns) + len(TRANSFER_IMAGES)

    # The tables and the loss plot name the two Full-Glows apart; none is a bare "Full-Glow".
    assert [r.entry.title for r in metrics.trained[:2]] == [default_title, paper_title]
    for title in (default_title, paper_title):
        assert html.count(f"<td>{escape(title)}</td>") == 1  # its row of the metrics table
        assert f">{escape(title)}</text>" in html  # its series of the training loss
        assert f"<th>{escape(title)} diverged</th>" in html  # its columns of the sweep table
    assert "<td>Full-Glow</td>" not in html
    paper_report = metrics.trained[1].report
    cells = re.findall(r"<tr><td>1\.0</td>(.*?)</tr>", html)[-1]
    diverged = re.findall(r"<td>(\d+ / \d+)</td>", cells)
    assert diverged[1] == f"{paper_report.at(1.0).diverged} / {config.n_val}"


def test_demo_refuses_foreign_or_incompatible_folders(tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.png").write_bytes(b"not a demo")
    with pytest.raises(UserInputError, match="not a demo folder"):
        run_demo(TINY, foreign)
    assert sorted(p.name for p in foreign.iterdir()) == ["holiday.png"]

    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / MARKER_FILE).write_text(
        json.dumps({"format": "fullglow-demo/1", "config": TINY.to_dict(), "stages": []})
    )
    other = DemoConfig(**{**TINY.to_dict(), "image_size": (32, 32)})
    with pytest.raises(UserInputError, match="image_size"):
        run_demo(other, demo)


def test_cli_reports_a_refused_folder_without_traceback(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path), "--size", "16x32", "--minutes", "1"]) == 2
    assert "not a demo folder" in capsys.readouterr().err


def test_demo_config_rejects_bad_settings():
    with pytest.raises(UserInputError, match="lack"):
        DemoConfig(temperatures=(0.5, 1.0))
    with pytest.raises(UserInputError, match="minutes"):
        DemoConfig(minutes=0)
    # Every model is checked at the size before anything trains (pix2pix used to fail only
    # at its own training stage, after the flows had trained).
    with pytest.raises(UserInputError, match="pix2pix: .* smaller than 24 pixels"):
        DemoConfig(preset="tiny", image_size=(16, 32), baselines=True)
    with pytest.raises(UserInputError, match="divisible by 2\\*\\*n_blocks = 8"):
        DemoConfig(image_size=(30, 64))
    DemoConfig(preset="tiny", image_size=(16, 32))


def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(3.2, 7.9) == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert nice_ticks(0.0, 100.0) == [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
    assert nice_ticks(5.0, 5.0) == [4.5, 5.0, 5.5]


def test_line_chart_maps_points_into_the_plot_area():
    svg = line_chart(
        [Series("a", ((0.0, 0.0), (1.0, 100.0))), Series("b", ((0.5, float("nan")),))],
        title="t <&>",
        x_label="T",
        y_label="%",
        width=200,
        height=160,
        y_range=(0.0, 100.0),
    )
    root = ET.fromstring(svg)  # well-formed, escaped XML
    ns = {"s": "http://www.w3.org/2000/svg"}
    lines = root.findall("s:polyline", ns)
    assert len(lines) == 1  # the all-NaN series draws nothing
    (x0, y0), (x1, y1) = (tuple(map(float, p.split(","))) for p in lines[0].get("points").split())
    # Plot area: left 58, right 200 - 14, top 28, bottom 160 - 62.
    assert (x0, y0, x1, y1) == (58.0, 98.0, 186.0, 28.0)
