"""`fullglow study augmentation`: a tiny study end to end, what each stage reads, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fullglow.data import CityscapesDataset
from fullglow.data.labels import IGNORE_INDEX, TRAIN_LABELS
from fullglow.errors import UserInputError
from fullglow.study import StudyConfig, run_study
from fullglow.study import pipeline as study_pipeline

TINY = dict(
    image_size=(32, 64), real=5, pool=3, val=4, seeds=2, models=("fullglow", "pix2pix"),
    per_label=2, keep=1, minutes=1.0, generator_steps=2, segmenter_steps=2, segmenter_width=8,
    preset="tiny", batch_size=4, device="cpu", n_grid=2,
)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fullglow.data import synthesize_dataset

    root = tmp_path_factory.mktemp("study-data")
    synthesize_dataset(root, n_train=8, n_val=4, size=(32, 64), seed=3, progress=False)
    return root


def _photo_stems(dataset: object) -> list[str]:
    return sorted(r.stem for r in dataset.records)


def test_a_tiny_study_runs_end_to_end_and_generators_see_only_r(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[tuple[str, str, list[str]]] = []
    real_train, real_segmenter = study_pipeline.train, study_pipeline.train_segmenter

    def spy_train(config, out_dir, resume=False):
        reads.append(
            ("generator", config.model, _photo_stems(CityscapesDataset(config.data, "train")))
        )
        return real_train(config, out_dir, resume)

    def spy_segmenter(train_dataset, *args, extra_dataset=None, **kwargs):
        row = Path(args[6]).name
        reads.append(("segmenter", row, _photo_stems(train_dataset)))
        if extra_dataset is not None:
            reads.append(("extra", row, [str(extra_dataset.root)]))
        return real_segmenter(train_dataset, *args, extra_dataset=extra_dataset, **kwargs)

    monkeypatch.setattr(study_pipeline, "train", spy_train)
    monkeypatch.setattr(study_pipeline, "train_segmenter", spy_segmenter)
    out = tmp_path / "study"
    result = run_study(StudyConfig(data=str(tiny_data), **TINY), out)

    split = json.loads((out / "split" / "split.json").read_text())
    assert len(split["real"]) == 5 and len(split["pool"]) == 3
    assert not set(split["real"]) & set(split["pool"])
    generators = [r for r in reads if r[0] == "generator"]
    assert [g[1] for g in generators] == ["fullglow", "pix2pix"]
    assert all(g[2] == split["real"] for g in generators)
    segmenters = [r for r in reads if r[0] == "segmenter"]
    assert all(s[2] == split["real"] for s in segmenters)  # every row's real part is R
    extras = {r[1]: Path(r[2][0]) for r in reads if r[0] == "extra"}
    for row, root in extras.items():
        if row.startswith("oracle"):
            assert root == out / "split" / "pool_real"
            assert _photo_stems(CityscapesDataset(root, "train")) == split["pool"]
        else:  # synthetic photos only, never U's real ones
            assert root.parent == out / "aug"
            assert all(
                s.rsplit("-s", 1)[0] in split["pool"]
                for s in _photo_stems(CityscapesDataset(root, "train"))
            )
    # U's photos exist in the study only where the oracle reads them.
    assert not list((out / "split" / "pool_labels").rglob("*_leftImg8bit.png"))

    rows = [r["row"] for r in result.results["rows"]]
    assert rows == ["real", "oracle", "fullglow-likelihood", "fullglow-agreement",
                    "pix2pix-agreement", "untrained-all"]  # fmt: skip
    for entry in result.results["rows"]:
        assert len(entry["val_miou"]) == 2
    for name in ("results.json", "table.md", "report.html"):
        assert (out / name).is_file()
    # A token budget is never silent: 1 minute leaves each generator 0.25 min.
    assert result.results["budget"]["generator_minutes"] == pytest.approx(0.25)
    assert "below the 3-minute minimum" in result.results["budget"]["warning"]
    assert "WARNING: each generator trains for 0.2 min" in (out / "table.md").read_text()
    assert "WARNING: each generator" in (out / "report.html").read_text()
    assert "<svg" in (out / "report.html").read_text()
    # A re-run finds everything done and changes nothing.
    before = (out / "results.json").read_text()
    reads.clear()
    run_study(StudyConfig(data=str(tiny_data), **TINY), out)
    assert (
        reads == []
        and json.loads((out / "results.json").read_text())["rows"] == json.loads(before)["rows"]
    )


def _numbers(results: dict) -> list[tuple]:
    return [(r["row"], r["val_miou"], r["per_class_iou"]) for r in results["rows"]]


def test_an_interrupted_study_completed_by_the_rerun_equals_an_uninterrupted_one(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every stage derives its randomness from the seeds alone and the generators stop at
    `generator_steps` (the budget does not bind), so the numbers are equal to the last bit."""
    settings = {**TINY, "models": ("fullglow",), "select": ("likelihood", "agreement")}
    whole = run_study(StudyConfig(data=str(tiny_data), **settings), tmp_path / "whole")
    real_segmenter = study_pipeline.train_segmenter
    calls = {"n": 0}

    def crash_on_the_fourth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # R's two seeds, then the oracle's first: the second oracle seed
            raise KeyboardInterrupt
        return real_segmenter(*args, **kwargs)

    out = tmp_path / "cut"
    monkeypatch.setattr(study_pipeline, "train_segmenter", crash_on_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        run_study(StudyConfig(data=str(tiny_data), **settings), out)
    assert not (out / "results.json").exists()
    assert not (out / "segmenters" / "oracle-s1").exists()
    monkeypatch.setattr(study_pipeline, "train_segmenter", real_segmenter)
    resumed = run_study(StudyConfig(data=str(tiny_data), **settings), out)
    assert [r["row"] for r in resumed.results["rows"]] == [
        "real", "oracle", "fullglow-likelihood", "fullglow-agreement", "untrained-all",
    ]  # fmt: skip
    assert _numbers(resumed.results) == _numbers(whole.results)


def test_classes_of_u_absent_from_r_are_named_in_a_warning(
    tiny_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(study_pipeline, "train_segmenter", stop)
    out = tmp_path / "study"
    with caplog.at_level("WARNING"), pytest.raises(KeyboardInterrupt):
        run_study(StudyConfig(data=str(tiny_data), **TINY), out)
    split = json.loads((out / "split" / "split.json").read_text())
    train = CityscapesDataset(tiny_data, "train", (32, 64))
    present: dict[str, set[int]] = {"real": set(), "pool": set()}
    for index, record in enumerate(train.records):
        part = "real" if record.stem in split["real"] else "pool"
        ids = train[index].train_ids
        present[part].update(int(c) for c in ids[ids != IGNORE_INDEX].unique())
    only_in_pool = sorted(present["pool"] - present["real"])
    assert only_in_pool  # the tiny data has some, so the warning is exercised
    expected = ", ".join(TRAIN_LABELS[c].name for c in only_in_pool)
    warnings = [r.getMessage() for r in caplog.records if "never occur in R" in r.getMessage()]
    assert warnings == [f"classes in the pool U that never occur in R: {expected}"]


def test_an_existing_output_is_refused_unless_resumed_or_overwritten(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(study_pipeline, "train_segmenter", stop)
    out = tmp_path / "study"
    with pytest.raises(KeyboardInterrupt):
        run_study(StudyConfig(data=str(tiny_data), **TINY), out)
    with pytest.raises(UserInputError, match="other settings \\(seeds: 2 -> 3\\)"):
        run_study(StudyConfig(data=str(tiny_data), **{**TINY, "seeds": 3}), out)
    (out / "mine.txt").write_text("kept until --overwrite")
    with pytest.raises(KeyboardInterrupt):
        run_study(StudyConfig(data=str(tiny_data), **{**TINY, "seeds": 3}), out, overwrite=True)
    assert not (out / "mine.txt").exists()
    marker = json.loads((out / "study.json").read_text())
    assert marker["config"]["seeds"] == 3
    assert [s["name"] for s in marker["stages"]] == ["split"]


def test_the_budget_plan_splits_the_minutes_and_warns_below_the_minimum() -> None:
    from fullglow.study.budget import MIN_GENERATOR_MINUTES, BudgetPlan

    plan = BudgetPlan(minutes=45.0, generator_share=0.5, generators=("fullglow", "pix2pix"))
    assert plan.generator_minutes == pytest.approx(11.25) and plan.warning is None
    assert plan.rest_minutes == pytest.approx(22.5)
    short = BudgetPlan(minutes=10.0, generator_share=0.5, generators=("fullglow", "pix2pix"))
    assert short.generator_minutes < MIN_GENERATOR_MINUTES and "2.5 min only" in short.warning


def test_bad_study_input_is_a_one_line_error(tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="fewer than --real 5 \\+ --pool 30"):
        run_study(StudyConfig(data=str(tiny_data), **{**TINY, "pool": 30}), tmp_path / "a")
    no_val = tmp_path / "no-val"
    (no_val / "gtFine" / "train").mkdir(parents=True)
    with pytest.raises(UserInputError, match="no usable val split"):
        run_study(StudyConfig(data=str(no_val), **TINY), tmp_path / "b")
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(UserInputError, match="not a study folder"):
        run_study(StudyConfig(data=str(tiny_data), **TINY), taken)
    with pytest.raises(UserInputError, match="unknown models"):
        StudyConfig(models=("nope",))
    with pytest.raises(UserInputError, match="keep"):
        StudyConfig(per_label=1, keep=2)
