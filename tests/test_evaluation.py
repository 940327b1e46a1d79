"""Evaluation library: BPD against closed forms, seeded sampling, content transfer, scores, tables,
all-or-nothing outputs and the errors of bad input."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from fullglow import build_model
from fullglow.data import CityscapesDataset
from fullglow.data.image_io import read_label_ids, read_rgb, write_png
from fullglow.data.labels import label_ids_to_train_ids
from fullglow.data.resizing import resize_nearest
from fullglow.errors import UserInputError
from fullglow.evaluation.bpd import conditional_bpd
from fullglow.evaluation.compare import merge_temperatures
from fullglow.evaluation.evaluate import (
    EvaluationSettings,
    evaluate_model,
    prepare_segmenter,
    score_saved_samples,
    segmentation_scores,
)
from fullglow.evaluation.figures import model_column
from fullglow.evaluation.report import EvaluationReport, MeanStd, RoundScores, TemperatureResult
from fullglow.evaluation.tables import table1, table2
from fullglow.layers.priors import TopPrior
from fullglow.likelihood import standard_normal_log_prob
from fullglow.metrics import NUM_CLASSES
from fullglow.synthesis.augment import augment_dataset
from fullglow.synthesis.generation import model_condition
from fullglow.synthesis.images import cityscapes_photo_path, to_uint8
from fullglow.synthesis.sampling import sample_split
from fullglow.synthesis.sheet import GAP, FigureColumn, compose_figure
from fullglow.synthesis.splits import open_dataset_split
from fullglow.synthesis.transfer import content_transfer, transfer_files
from fullglow.training.runs import LoadedRun, load_run, weights_fingerprint
from tiny_models import SIZE, tiny_fullglow


def colour_segmenter() -> nn.Module:
    """A per-pixel linear classifier of colours: its labels change with every pixel's colour."""
    torch.manual_seed(1)
    return nn.Conv2d(3, NUM_CLASSES, 1).eval()


def scripted(module: nn.Module, path: Path) -> Path:
    torch.jit.save(torch.jit.script(module), str(path))
    return path


@pytest.fixture(scope="module")
def model(synthetic_root: Path) -> nn.Module:
    return tiny_fullglow(synthetic_root)


@pytest.fixture(scope="module")
def val(synthetic_root: Path) -> CityscapesDataset:
    return open_dataset_split(synthetic_root, "val", SIZE)


class GaussianDensity(nn.Module):
    """A stand-in conditional model whose density is known: the label is ignored and
    `log p(x) = log N(x; mean_c, exp(log_sd_c)^2)` per channel, through Glow's top prior."""

    has_likelihood = True
    name = "gaussian"

    def __init__(self, size: tuple[int, int]) -> None:
        super().__init__()
        self.config = SimpleNamespace(n_bits=8, image_size=size, side_channels=0)
        self.prior = TopPrior(3)
        self.num_dims = 3 * size[0] * size[1]

    def log_prob(self, x: Tensor, cond: Tensor, side: Tensor | None = None) -> Tensor:
        eps, logdet = self.prior(x)
        return standard_normal_log_prob(eps) + logdet


def expected_gaussian_bpd(mean: Tensor, log_sd: Tensor, photo: Tensor) -> float:
    """`E_u[-log2 N(b + u; m, s^2)] / D + 8` with `u ~ U(0, 1/256)` per dimension, in closed form:
    `E[(b + u - m)^2] = (b + 1/512 - m)^2 + 1/(12 * 256^2)`."""
    b = torch.floor(photo.double()[None] * 256).clamp(max=255) / 256
    m, log_s = mean.double(), log_sd.double()
    square = (b + 0.5 / 256 - m) ** 2 + 1.0 / (12 * 256**2)
    nll = (log_s + 0.5 * math.log(2 * math.pi) + square / (2 * torch.exp(2 * log_s))).expand_as(b)
    return float((nll.sum() / b.numel() + math.log(256)) / math.log(2))


def test_bpd_of_fresh_top_prior_is_the_standard_normal_closed_form(val: CityscapesDataset) -> None:
    model = GaussianDensity(SIZE)
    result = conditional_bpd(model, val, batch_size=3, draws=2)
    zero = torch.zeros(1, 3, 1, 1)
    for i in range(len(val)):
        expected = expected_gaussian_bpd(zero, zero, val[i].photo)
        assert result.per_image[i].item() == pytest.approx(expected, abs=1e-4)
    assert result.mean == pytest.approx(float(result.per_image.mean()))


def test_bpd_of_shifted_scaled_gaussian_matches_closed_form(val: CityscapesDataset) -> None:
    model = GaussianDensity(SIZE)
    mean = torch.tensor([0.2, 0.5, 0.7]).view(1, 3, 1, 1)
    log_sd = torch.tensor([0.0, -0.5, 0.3]).view(1, 3, 1, 1)
    with torch.no_grad():
        model.prior.mean.copy_(mean)
        model.prior.log_sd.copy_(log_sd)
    result = conditional_bpd(model, val, batch_size=4, draws=4)
    expected = [expected_gaussian_bpd(mean, log_sd, val[i].photo) for i in range(len(val))]
    # The dequantization noise moves a 4-draw estimate by ~5e-5 bits (std) at these scales.
    assert result.per_image.tolist() == pytest.approx(expected, abs=2e-4)
    # The closed forms differ by far more than the tolerance: the check has teeth.
    assert max(expected) - min(expected) > 1e-2


def test_bpd_of_a_flow_does_not_depend_on_batch_size(
    model: nn.Module, val: CityscapesDataset
) -> None:
    one = conditional_bpd(model, val, batch_size=1, draws=2, seed=3)
    four = conditional_bpd(model, val, batch_size=4, draws=2, seed=3)
    torch.testing.assert_close(one.per_image, four.per_image, rtol=0, atol=1e-5)
    other_noise = conditional_bpd(model, val, batch_size=4, draws=2, seed=4)
    assert not torch.equal(four.per_image, other_noise.per_image)
    assert (four.per_image - other_noise.per_image).abs().max() < 0.05


def test_a_float64_model_is_evaluated_in_float64(model: nn.Module, val: CityscapesDataset) -> None:
    double = copy.deepcopy(model).double()
    calls: list[tuple[str, torch.dtype]] = []

    def recorded(name: str) -> object:
        method = getattr(double, name)

        def call(*args: object, **kwargs: object) -> Tensor:
            inputs = [a for a in (*args, *kwargs.values()) if isinstance(a, Tensor)]
            out = method(*args, **kwargs)
            calls.extend((name, t.dtype) for t in (*inputs, out))
            return out

        return call

    double.log_prob = recorded("log_prob")
    double.sample = recorded("sample")
    single = conditional_bpd(model, val, batch_size=4, draws=1)
    torch.testing.assert_close(
        conditional_bpd(double, val, batch_size=4, draws=1).per_image, single.per_image,
        rtol=0, atol=1e-3,
    )  # fmt: skip
    settings = EvaluationSettings(temperatures=(0.0,), rounds=1, batch_size=4)
    results, _ = segmentation_scores(double, colour_segmenter(), val, settings)
    assert 0 <= results[0].rounds[0].pixel_accuracy <= 1
    # Photos, conditions, side inputs and results of both passes are float64, the model too.
    assert {name for name, _ in calls} == {"log_prob", "sample"}
    assert {dtype for _, dtype in calls} == {torch.float64}
    assert all(p.dtype == torch.float64 for p in double.parameters())


def _read_round(out: Path, dataset: CityscapesDataset, round_number: int) -> np.ndarray:
    return np.stack(
        [
            read_rgb(cityscapes_photo_path(out / f"round_{round_number}", "val", r.city, r.stem))
            for r in dataset.records
        ]
    )


def test_temperature_zero_sampling_is_deterministic(
    model: nn.Module, val: CityscapesDataset, tmp_path: Path
) -> None:
    sample_split(model, val, tmp_path / "a", temperature=0.0, rounds=2, batch_size=3, seed=0)
    sample_split(model, val, tmp_path / "b", temperature=0.0, rounds=1, batch_size=4, seed=9)
    first = _read_round(tmp_path / "a", val, 1)
    assert first.shape == (len(val), *SIZE, 3)
    np.testing.assert_array_equal(first, _read_round(tmp_path / "a", val, 2))
    np.testing.assert_array_equal(first, _read_round(tmp_path / "b", val, 1))
    # T = 0 decodes the all-zero latents: the mode of every prior.
    cond = torch.stack([val[i].label_colour for i in range(len(val))])
    with torch.no_grad():
        zeros = [torch.zeros(len(val), *s) for s in model.latent_shapes()]
        mode = to_uint8(model.decode(zeros, cond))
    assert np.abs(first.astype(int) - mode.astype(int)).max() <= 1


def test_positive_temperature_rounds_differ_and_seeds_reproduce(
    model: nn.Module, val: CityscapesDataset, tmp_path: Path
) -> None:
    sample_split(model, val, tmp_path / "a", temperature=0.9, rounds=2, batch_size=2, seed=5)
    sample_split(model, val, tmp_path / "b", temperature=0.9, rounds=1, batch_size=2, seed=5)
    round_1, round_2 = _read_round(tmp_path / "a", val, 1), _read_round(tmp_path / "a", val, 2)
    assert np.abs(round_1.astype(int) - round_2.astype(int)).mean() > 1
    np.testing.assert_array_equal(round_1, _read_round(tmp_path / "b", val, 1))
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_content_transfer_under_its_own_label_reproduces_the_photo(
    model: nn.Module, val: CityscapesDataset
) -> None:
    batch = next(iter(torch.utils.data.DataLoader(val, batch_size=2)))
    photo, label = batch.photo, batch.label_colour
    same = content_transfer(model, photo, label, label)
    torch.testing.assert_close(same, photo, rtol=0, atol=1e-4)
    swapped = content_transfer(model, photo, label, label.flip(0))
    assert (swapped - photo).abs().mean() > 1e-3


def test_content_transfer_scales_the_latents(model: nn.Module, val: CityscapesDataset) -> None:
    batch = next(iter(torch.utils.data.DataLoader(val, batch_size=2)))
    photo, label = batch.photo.double(), batch.label_colour.double()
    model64 = copy.deepcopy(model).double()
    scaled = content_transfer(model64, photo, label, label, scale=0.5)
    # Decoding is the exact inverse under the same label: the result encodes to half the latents
    # (under the condition as every use prepares it).
    cond = model_condition(model64, label)
    for z_scaled, z in zip(model64.encode(scaled, cond), model64.encode(photo, cond), strict=True):
        torch.testing.assert_close(z_scaled, 0.5 * z, rtol=0, atol=1e-8)
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(UserInputError, match="latent scale"):
            content_transfer(model, batch.photo, batch.label_colour, batch.label_colour, scale=bad)


def test_transfer_files_refuses_a_diverged_decoding(
    model: nn.Module, val: CityscapesDataset, tmp_path: Path
) -> None:
    broken = copy.deepcopy(model)
    with torch.no_grad():
        # exp(-200) is 0 in float32: every top latent encodes to 0 and decodes to 0 * inf = NaN.
        broken.target_levels[-1].prior.log_sd.fill_(200.0)
    broken.save(tmp_path / "model")
    run = load_run(tmp_path / "model")
    content, structure = val.records[0], val.records[1]
    out = tmp_path / "t.png"
    with pytest.raises(UserInputError, match="diverged .* at latent scale 0.7"):
        transfer_files(
            run, content.photo_path, content.colour_path, structure.colour_path, out, scale=0.7
        )
    assert list(tmp_path.iterdir()) == [tmp_path / "model"]


def test_transfer_files_reads_colour_and_id_labels(
    model: nn.Module, synthetic_root: Path, val: CityscapesDataset, tmp_path: Path
) -> None:
    model.save(tmp_path / "model")
    run = load_run(tmp_path / "model")
    content, structure = val.records[0], val.records[1]
    out = transfer_files(
        run, content.photo_path, content.colour_path, structure.label_ids_path, tmp_path / "t.png"
    )
    image = read_rgb(out)
    assert image.shape == (*SIZE, 3)
    same = transfer_files(
        run, content.photo_path, content.label_ids_path, content.colour_path, tmp_path / "s.png"
    )
    # Under its own label the content photo comes back (as resized to the model's size).
    np.testing.assert_allclose(read_rgb(same), to_uint8(val[0].photo[None])[0], atol=1)
    with pytest.raises(UserInputError, match="already exists"):
        transfer_files(run, content.photo_path, content.colour_path, content.colour_path, out)
    smaller = tmp_path / "small_gtFine_labelIds.png"
    write_png(smaller, resize_nearest(read_label_ids(content.label_ids_path), (32, 64)))
    with pytest.raises(UserInputError, match="is 64x128 but its label .* is 32x64"):
        transfer_files(run, content.photo_path, smaller, content.colour_path, tmp_path / "u.png")
    assert not (tmp_path / "u.png").exists()


def test_saved_samples_score_like_in_memory_sampling(
    model: nn.Module, val: CityscapesDataset, tmp_path: Path
) -> None:
    segmenter = colour_segmenter()
    settings = EvaluationSettings(temperatures=(0.7,), rounds=2, batch_size=3, seed=2)
    results, real = segmentation_scores(model, segmenter, val, settings)
    sample_split(model, val, tmp_path / "s", temperature=0.7, rounds=2, batch_size=3, seed=2)
    labels = CityscapesDataset(val.root, "val", SIZE, require_photos=False)
    saved = score_saved_samples(tmp_path / "s", labels, segmenter, batch_size=4)
    # The same scores; whether a sample diverged is not known from its PNG.
    assert saved.rounds == tuple(dataclasses.replace(r, diverged=None) for r in results[0].rounds)
    assert results[0].rounds[0] != results[0].rounds[1]
    assert 0 < real.pixel_accuracy < 1


def test_saved_samples_of_another_size_are_refused(
    model: nn.Module, val: CityscapesDataset, tmp_path: Path
) -> None:
    sample_split(model, val, tmp_path / "s", temperature=0.0, rounds=1, batch_size=4)
    at_file_size = CityscapesDataset(val.root, "val", None, require_photos=False)
    with pytest.raises(UserInputError, match="generated photo is 16x32 but its label"):
        score_saved_samples(tmp_path / "s", at_file_size, colour_segmenter())
    with pytest.raises(UserInputError, match="no round_1"):
        score_saved_samples(tmp_path, at_file_size, colour_segmenter())


def test_pix2pix_is_scored_at_one_row_without_bpd(synthetic_root: Path, tmp_path: Path) -> None:
    pix2pix = build_model("pix2pix", "tiny").eval()
    size = tuple(pix2pix.config.image_size)
    dataset = open_dataset_split(synthetic_root, "val", size)
    run = LoadedRun(pix2pix, tmp_path, "model", weights_fingerprint(pix2pix))
    segmenter = prepare_segmenter(scripted(colour_segmenter(), tmp_path / "seg.pt"), size, "cpu")
    settings = EvaluationSettings(temperatures=(0.5, 1.0), rounds=2, batch_size=4)
    report = evaluate_model(run, dataset, segmenter, settings)
    assert report.bpd is None
    assert [t.temperature for t in report.temperatures] == [None]
    assert len(report.temperatures[0].rounds) == 2
    assert "| pix2pix | — |" in table1([report])
    assert table2(report).splitlines()[2].startswith("| — |")


def test_segmenter_with_wrong_classes_or_size_is_refused(tmp_path: Path) -> None:
    five = scripted(nn.Conv2d(3, 5, 1), tmp_path / "five.pt")
    with pytest.raises(UserInputError, match="19 classes"):
        prepare_segmenter(five, SIZE, "cpu")
    half = scripted(nn.Conv2d(3, NUM_CLASSES, 2, stride=2), tmp_path / "half.pt")
    with pytest.raises(UserInputError, match=r"returns \(1, 19, 8, 16\)"):
        prepare_segmenter(half, SIZE, "cpu")


def test_run_without_model_or_checkpoint_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="no such folder"):
        load_run(tmp_path / "missing")
    with pytest.raises(UserInputError, match="nothing to evaluate"):
        load_run(tmp_path)
    from fullglow.training import TrainConfig

    config = TrainConfig(data=str(tmp_path), steps=1)
    (tmp_path / "train_config.json").write_text(json.dumps(config.to_dict()))
    with pytest.raises(UserInputError, match="no checkpoint"):
        load_run(tmp_path)


def test_empty_split_is_refused(tmp_path: Path) -> None:
    for part in ("gtFine", "leftImg8bit"):
        (tmp_path / part / "val" / "city").mkdir(parents=True)
    with pytest.raises(UserInputError, match="no \\*_gtFine_labelIds.png"):
        open_dataset_split(tmp_path, "val", SIZE)


class FailingModel(nn.Module):
    """Samples one batch, then fails, as an interrupted run would."""

    has_likelihood = True

    def __init__(self) -> None:
        super().__init__()
        self.config = SimpleNamespace(n_bits=8, image_size=SIZE, side_channels=0)
        self.calls = 0

    def sample(
        self, cond: Tensor, temperature: float, generator: torch.Generator, side: None
    ) -> Tensor:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("interrupted")
        return cond


def test_failed_sampling_leaves_nothing_behind(val: CityscapesDataset, tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="interrupted"):
        sample_split(FailingModel(), val, tmp_path / "out", temperature=0.5, batch_size=2)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("old")
    with pytest.raises(UserInputError, match="already exists"):
        sample_split(FailingModel(), val, tmp_path / "out", temperature=0.5, batch_size=4)
    with pytest.raises(RuntimeError, match="interrupted"):
        sample_split(FailingModel(), val, tmp_path / "out", 0.5, batch_size=2, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (tmp_path / "out" / "keep.txt").read_text() == "old"


class DivergingModel(nn.Module):
    """Samples the label colours themselves; above T = 0.5 the first sample of every batch is
    NaN, as from a flow whose inverse overflowed."""

    has_likelihood = True

    def __init__(self) -> None:
        super().__init__()
        self.config = SimpleNamespace(n_bits=8, image_size=SIZE, side_channels=0)

    def sample(
        self, cond: Tensor, temperature: float, generator: torch.Generator, side: None
    ) -> Tensor:
        photos = cond.clone()
        if temperature > 0.5:
            photos[0] = math.nan
        return photos


def test_diverged_samples_are_counted_reported_and_left_out_of_augmentation(
    val: CityscapesDataset, synthetic_root: Path, tmp_path: Path
) -> None:
    n, batch = len(val), 2
    first_of_batch = math.ceil(n / batch)
    settings = EvaluationSettings(temperatures=(0.0, 1.0), rounds=2, batch_size=batch)
    results, real = segmentation_scores(DivergingModel(), colour_segmenter(), val, settings)
    assert [[r.diverged for r in t.rounds] for t in results] == [[0, 0], [first_of_batch] * 2]
    assert real.diverged is None
    # A diverged sample is scored as the black image it is saved as.
    assert results[1].pixel_accuracy.mean < results[0].pixel_accuracy.mean
    report = dataclasses.replace(
        _report("fullglow", 2.0, [0.0, 1.0]), n_images=n, temperatures=results
    )
    assert EvaluationReport.from_json(json.loads(json.dumps(report.to_json()))) == report
    note = f"scored as written, NaN as 0): T = 1.0: {2 * first_of_batch} of {2 * n}."
    assert table2(report).splitlines()[-1].endswith(note)
    assert (
        table1([report]).splitlines()[-1].endswith(f"Full-Glow: {2 * first_of_batch} of {2 * n}.")
    )
    assert "diverged" not in table2(dataclasses.replace(report, temperatures=results[:1]))

    summary = sample_split(DivergingModel(), val, tmp_path / "s", temperature=1.0, batch_size=batch)
    assert summary.diverged == first_of_batch
    labels = open_dataset_split(synthetic_root, "val", SIZE, require_photos=False)
    aug = augment_dataset(
        DivergingModel(), labels, tmp_path / "aug", per_label=2, temperature=1.0, batch_size=batch
    )
    assert (aug.diverged, aug.n_images) == (2 * first_of_batch, 2 * (n - first_of_batch))
    written = open_dataset_split(tmp_path / "aug", "val", SIZE)
    expected = sorted(
        f"{r.stem}-s{k}" for i, r in enumerate(labels.records) if i % batch for k in range(2)
    )
    assert sorted(r.stem for r in written.records) == expected


def test_report_rejects_a_bad_diverged_count() -> None:
    values = _report("fullglow", 2.0, [1.0]).to_json()
    for bad in (-1, 1.5, True, "3"):
        values["temperatures"][0]["rounds"][0]["diverged"] = bad
        with pytest.raises(UserInputError, match="bad diverged count"):
            EvaluationReport.from_json(values)
    del values["temperatures"][0]["rounds"][0]["diverged"]
    assert EvaluationReport.from_json(values).temperatures[0].diverged is None


def test_augmented_dataset_pairs_generated_photos_with_their_labels(
    model: nn.Module, synthetic_root: Path, tmp_path: Path
) -> None:
    labels = open_dataset_split(synthetic_root, "val", SIZE, require_photos=False)
    summary = augment_dataset(model, labels, tmp_path / "aug", per_label=2, temperature=0.8,
                              batch_size=3)  # fmt: skip
    assert summary.n_images == 2 * len(labels)
    augmented = CityscapesDataset(tmp_path / "aug", "val")
    assert len(augmented) == 2 * len(labels)
    for index, record in enumerate(augmented.records):
        source_index = [r.stem for r in labels.records].index(record.stem.rsplit("-s", 1)[0])
        source = labels.records[source_index]
        expected = resize_nearest(read_label_ids(source.label_ids_path), SIZE)
        np.testing.assert_array_equal(augmented.load_label_ids(index), expected)
        sample = augmented[index]
        assert sample.photo.shape == (3, *SIZE)
        torch.testing.assert_close(
            sample.train_ids, torch.from_numpy(label_ids_to_train_ids(expected)).long()
        )
    first, second = augmented[0].photo, augmented[1].photo  # -s0 and -s1 of one label
    assert augmented.records[0].stem.endswith("-s0") and augmented.records[1].stem.endswith("-s1")
    assert (first - second).abs().mean() > 1e-3


def _report(model: str, bpd: float | None, temperatures: list[float | None]) -> EvaluationReport:
    rounds = (RoundScores(0.7350, 0.2913, 0.2386), RoundScores(0.7376, 0.2991, 0.2446))
    return EvaluationReport(
        model=model, run=f"/runs/{model}", checkpoint="best", data="/data", split="val",
        n_images=500, image_size=(256, 256), bpd=bpd, bpd_draws=4,
        temperatures=tuple(TemperatureResult(t, rounds) for t in temperatures),
        ground_truth=RoundScores(0.9597, 0.8431, 0.7730), segmenter="/seg", seed=0,
        model_fingerprint="abc", segmenter_fingerprint="def",
    )  # fmt: skip


def test_mean_and_std_over_rounds() -> None:
    stat = MeanStd.of([0.1, 0.3])
    assert (stat.mean, stat.std) == pytest.approx((0.2, 0.1))
    assert MeanStd.of([0.5]).std == 0.0


def test_tables_have_the_papers_shape() -> None:
    flow, gan = _report("fullglow", 2.3451, [0.0, 1.0]), _report("pix2pix", None, [None])
    lines = table1([flow, gan], temperature=1.0).splitlines()
    assert lines[0] == "| Model | Cond. BPD | Mean pixel acc. | Mean class acc. | Mean class IoU |"
    # mean of (73.50, 73.76) = 73.63, population std 0.13; (29.13, 29.91) -> 29.52 ± 0.39
    assert lines[2] == "| Full-Glow | 2.345 | 73.63 ± 0.13 | 29.52 ± 0.39 | 24.16 ± 0.30 |"
    assert lines[3].startswith("| pix2pix | — | 73.63 ± 0.13")
    assert lines[4] == "| Ground-truth | — | 95.97 | 84.31 | 77.30 |"
    rows = table2(flow).splitlines()
    assert [r.split(" | ")[0] for r in rows[2:]] == ["| 0.0", "| 1.0"]
    assert table2(_report("fullglow", 2.0, [0.85])).splitlines()[2].startswith("| 0.85 |")
    with pytest.raises(UserInputError, match="no evaluation at temperature 0.5"):
        table1([flow], temperature=0.5)
    small = dataclasses.replace(flow, image_size=(32, 64), run="/runs/other")
    assert "| Ground-truth (32x64) |" in table1([flow, small])
    assert "| Full-Glow (other) |" in table1([flow, small])


def test_report_json_round_trip_and_merge() -> None:
    report = _report("fullglow", 2.5, [0.0, 1.0])
    values = json.loads(json.dumps(report.to_json()))
    assert EvaluationReport.from_json(values) == report
    assert values["temperatures"][1]["pixel_accuracy"]["mean"] == pytest.approx(0.7363)
    with pytest.raises(UserInputError, match="malformed"):
        EvaluationReport.from_json({**values, "temperatures": [{"temperature": 1.0}]})
    extra = TemperatureResult(0.5, (RoundScores(0.1, 0.2, 0.3),))
    merged = merge_temperatures(report, [extra, dataclasses.replace(extra, temperature=1.0)])
    assert [t.temperature for t in merged.temperatures] == [0.0, 0.5, 1.0]
    assert merged.at(1.0).rounds == extra.rounds


def test_compose_figure_lays_columns_out_under_their_titles() -> None:
    red = torch.zeros(2, 3, 8, 16)
    red[:, 0] = 1.0
    blue = torch.zeros(2, 3, 4, 8)  # a smaller model's samples: enlarged to the same cells
    blue[:, 2] = 1.0
    figure = compose_figure(
        [FigureColumn("Conditioning", red), FigureColumn("a long title that must wrap", blue)]
    )
    cell_h, cell_w = 8 * 8, 8 * 16  # 16 px wide images are enlarged 8x to reach 128 px
    assert figure.shape[1] == GAP + 2 * (cell_w + GAP)
    header = figure.shape[0] - 2 * (cell_h + GAP)
    for row in range(2):
        top = header + row * (cell_h + GAP)
        red_cell = figure[top : top + cell_h, GAP : GAP + cell_w]
        blue_cell = figure[top : top + cell_h, 2 * GAP + cell_w : 2 * GAP + 2 * cell_w]
        assert (red_cell == [255, 0, 0]).all() and (blue_cell == [0, 0, 255]).all()
    # Titles are drawn (dark pixels) above each column, and the long one wraps onto more lines.
    titles = figure[:header]
    left, right = titles[:, : GAP + cell_w], titles[:, GAP + cell_w :]
    assert (left < 128).any() and (right < 128).any()
    dark_rows = [np.flatnonzero((part < 128).any(axis=(1, 2))) for part in (left, right)]
    assert dark_rows[1].max() > dark_rows[0].max()
    with pytest.raises(ValueError, match="same number of rows"):
        compose_figure([FigureColumn("a", red), FigureColumn("b", blue[:1])])


def test_model_columns_are_titled_with_the_model_and_temperature(
    model: nn.Module, val: CityscapesDataset, tmp_path: Path
) -> None:
    run = LoadedRun(model, tmp_path, "model", weights_fingerprint(model))
    column = model_column(run, val, rows=2, temperature=0.7, batch_size=4, seed=0)
    assert column.title == "Full-Glow, T = 0.7" and column.images.shape == (2, 3, *SIZE)
    # Two runs of one model are told apart by the label Table 1 gives them.
    assert model_column(run, val, 2, 0.7, 4, 0, label="Full-Glow (b)").title == (
        "Full-Glow (b), T = 0.7"
    )
    with pytest.raises(UserInputError, match="batch size of at least 3"):
        model_column(run, val, rows=3, temperature=0.7, batch_size=2, seed=0)
