"""`fullglow study augmentation`: a tiny study end to end, what each stage reads, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fullglow.data import CityscapesDataset
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
    assert "<svg" in (out / "report.html").read_text()
    # A re-run finds everything done and changes nothing.
    before = (out / "results.json").read_text()
    reads.clear()
    run_study(StudyConfig(data=str(tiny_data), **TINY), out)
    assert (
        reads == []
        and json.loads((out / "results.json").read_text())["rows"] == json.loads(before)["rows"]
    )


def test_an_interrupted_study_is_completed_by_the_rerun(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {**TINY, "models": ("fullglow",), "select": ("likelihood",), "seeds": 1}
    real_segmenter = study_pipeline.train_segmenter
    calls = {"n": 0}

    def crash_on_the_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_segmenter(*args, **kwargs)

    out = tmp_path / "study"
    monkeypatch.setattr(study_pipeline, "train_segmenter", crash_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        run_study(StudyConfig(data=str(tiny_data), **settings), out)
    assert not (out / "results.json").exists()
    monkeypatch.setattr(study_pipeline, "train_segmenter", real_segmenter)
    result = run_study(StudyConfig(data=str(tiny_data), **settings), out)
    assert [r["row"] for r in result.results["rows"]] == [
        "real",
        "oracle",
        "fullglow-likelihood",
        "untrained-all",
    ]


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
