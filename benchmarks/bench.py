"""Training and sampling speed of the flows against a float32 matmul, and their peak memory.

    python benchmarks/bench.py                    # the issue's CPU targets, Full-Glow (minutes)
    python benchmarks/bench.py --suite sweep      # batch 1, 4, 16 x K 4, 8, 16 x plain/memory-saving
    python benchmarks/bench.py --suite grid --model all --batch-sizes 1 8 --depths 8
    python benchmarks/bench.py --suite gpu --device cuda --tf32   # what gpu_check.sh runs

Every row runs in a fresh process, so that its peak memory is its own: the resident set size's
high-water mark on the CPU (`VmHWM`, reset before the timed part), `torch.cuda.max_memory_allocated`
on a GPU. A training row builds the model, runs the data-dependent initialisation, then times the
trainer's own step (`fullglow.training.objectives`: forward, backward, gradient-norm check, Adam)
on random images; a sampling row times `model.sample` on random label images. Before and after
the timed part the worker measures a float32 matmul (`--matmul-size`, same threads, same TF32
setting), and the row's GFLOP/s is divided by the mean of the two: that ratio is what compares
across machines and loads.

FLOPs are counted once per row with `torch.utils.flop_counter.FlopCounterMode` (convolutions,
matrix products; element-wise work and triangular solves are not counted). A memory-saving row
counts the plain mode's FLOPs (as 3x its forward pass's: a plain step might not fit), so its
GFLOP/s is the rate of useful work (its recomputations slow it down rather than add to it).
The timings are medians over `--steps` timed steps after `--warmup` untimed ones; `--rounds R`
repeats every row R times, interleaved, and reports medians: on a shared machine, read the
ratios, and the load averages printed beside them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from fullglow import build_config, build_model
from fullglow.layers.nets import set_bf16, set_channels_last
from fullglow.training.batches import Batch
from fullglow.training.config import TrainConfig
from fullglow.training.objectives import make_objective
from memory_vs_depth import _reset_cpu_peak, _rss_kib

FLOW_MODELS = ("fullglow", "cglow-v1", "cglow-v2", "dualglow")
MIB = 2**20
GIB = 2**30

# The authors' code at batch 1 on a 2-core CPU whose 2048x2048 float32 matmul runs at about
# 175 GFLOP/s (from the issue): 64x64, 3 x 8 samples at 0.21 s/image.
REFERENCE_MATMUL_GFLOPS = 175.0
REFERENCE_SAMPLE_IMAGES_PER_S = 1 / 0.21
# The paper's training budget: 45 epochs of the 2975 Cityscapes training images.
PAPER_TRAINING_IMAGES = 45 * 2975


@dataclass(frozen=True)
class Row:
    """One measurement: a model configuration, a task ("train" or "sample"), a batch and a mode."""

    model: str
    task: str
    batch: int
    mode: str = "plain"
    preset: str = "tiny"
    size: tuple[int, int] | None = (64, 64)
    blocks: int | None = 3
    depth: int | None = 8
    hidden: int | None = 512
    bf16: bool = False
    channels_last: str = "auto"

    def label(self) -> str:
        return f"{self.model} {self.task} b{self.batch} {self.variant()} {self.geometry()}"

    def variant(self) -> str:
        """The mode plus the options that differ from the defaults."""
        words = [self.mode if self.task == "train" else "-"]
        if self.bf16:
            words.append("bf16")
        if self.channels_last != "auto":
            words.append(f"channels-last {self.channels_last}")
        return ", ".join(words)

    def options(self) -> dict:
        """The model options this row sets over its preset."""
        options = {
            "image_size": self.size,
            "n_blocks": self.blocks,
            "n_flows": self.depth,
            "hidden_channels": self.hidden,
        }
        return {key: value for key, value in options.items() if value}

    def geometry(self) -> str:
        config = build_config(self.model, self.preset, **self.options())
        height, width = config.image_size
        return f"{height}x{width}, {config.n_blocks} x {config.n_flows[0]}"


# ------------------------------------------------------------------------------------- worker


class Memory:
    """Peak memory of the timed part: RSS on the CPU, allocated tensors on a GPU."""

    def __init__(self, device) -> None:
        self.device = device

    def reset(self) -> int:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return torch.cuda.memory_allocated(self.device)
        _reset_cpu_peak()
        return _rss_kib("VmRSS") * 1024

    def peak(self) -> int:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            return torch.cuda.max_memory_allocated(self.device)
        return _rss_kib("VmHWM") * 1024


def _timed(call, device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    call()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def matmul_gflops(device, size: int, seconds: float = 1.0) -> float:
    """Rate of `size x size` float32 matmuls over about `seconds`, after two warm-up products."""

    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    for _ in range(2):
        a @ b
    calls, elapsed = 0, 0.0
    while elapsed < seconds:
        elapsed += _timed(lambda: a @ b, device)
        calls += 1
    return calls * 2 * size**3 / elapsed / 1e9


def _build(row: Row, args: argparse.Namespace, device):

    torch.manual_seed(0)
    model = build_model(row.model, row.preset, **row.options())
    model.to(device)
    set_channels_last(model, {"auto": None, "on": True, "off": False}[row.channels_last])
    set_bf16(model, row.bf16)
    model.memory_saving = row.mode == "memory-saving"
    return model


def _inputs(model, batch: int, device):

    height, width = model.config.image_size
    gen = torch.Generator(device=device).manual_seed(0)
    # Dequantized-looking images in [0, 1]; the cost of a flow does not depend on the values.
    x = torch.rand(batch, model.config.in_channels, height, width, device=device, generator=gen)
    cond = torch.rand(
        batch, model.config.cond_channels, height, width, device=device, generator=gen
    )
    return x, cond


def _count_flops(call) -> int:
    with FlopCounterMode(display=False) as counter:
        call()
    return counter.get_total_flops()


def worker(row: Row, args: argparse.Namespace) -> dict:

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cudnn.benchmark = True
        if args.memory_cap_gib:
            total = torch.cuda.get_device_properties(device).total_memory
            torch.cuda.set_per_process_memory_fraction(args.memory_cap_gib * GIB / total, device)
    load_before = os.getloadavg()[0]
    mm_before = matmul_gflops(device, args.matmul_size)
    model = _build(row, args, device)
    x, cond = _inputs(model, row.batch, device)
    model.initialize(x, cond)
    memory = Memory(device)

    if row.task == "train":
        config = TrainConfig(model=row.model, steps=1)
        objective = make_objective(model, config, total_steps=1)
        batch = Batch(x, cond, None, x, cond)
        if model.memory_saving:
            # The plain step's FLOPs (the useful work) without the plain step's memory: 3x the
            # forward pass's (each product's backward is two of the same size), 0.2-0.5% above
            # the count of a plain step, whose few inputs without gradient need one product.
            with torch.no_grad():
                flops = 3 * _count_flops(lambda: model(x, cond))
        else:
            flops = _count_flops(lambda: objective.step(model, batch))

        def call() -> None:
            objective.step(model, batch)

    else:
        model.eval()
        generator = torch.Generator(device=device)

        def call() -> None:
            with torch.no_grad():
                model.sample(cond, temperature=0.8, generator=generator.manual_seed(0))

        flops = _count_flops(call)
    for _ in range(args.warmup):
        call()
    before = memory.reset()
    seconds = [_timed(call, device) for _ in range(args.steps)]
    peak = memory.peak()
    mm_after = matmul_gflops(device, args.matmul_size)
    step = statistics.median(seconds)
    matmul = (mm_before + mm_after) / 2
    extra = {}
    if row.bf16 and row.task == "train":
        with torch.no_grad():
            mixed = model(x, cond).total
            set_bf16(model, False)
            extra["bf16_bpd_difference"] = float((mixed - model(x, cond).total).abs())
    return {
        **extra,
        "seconds": step,
        "images_per_s": row.batch / step,
        "gflop": flops / 1e9,
        "gflops": flops / 1e9 / step,
        "matmul_gflops": matmul,
        "ratio": flops / 1e9 / step / matmul,
        "peak_mib": peak / MIB,
        "step_mib": (peak - before) / MIB,
        "load": (load_before + os.getloadavg()[0]) / 2,
    }


# -------------------------------------------------------------------------------------- parent


def run_row(row: Row, args: argparse.Namespace) -> dict:
    """Run `row` in a fresh process; `{"error": ...}` (or `{"oom": True}`) when it fails."""
    command = [sys.executable, __file__, "--worker", json.dumps(dataclasses.asdict(row))]
    for name in ("device", "threads", "steps", "warmup", "matmul_size"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.tf32:
        command.append("--tf32")
    if args.memory_cap_gib:
        command += ["--memory-cap-gib", str(args.memory_cap_gib)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.row_timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.row_timeout} s"}
    if done.returncode != 0:
        text = done.stderr + done.stdout
        if "OutOfMemoryError" in text or "out of memory" in text:
            return {"oom": True}
        return {"error": (text.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(rows: list[Row], args: argparse.Namespace) -> dict[Row, dict]:
    """Every row `args.rounds` times, interleaved; per row the median of each number."""
    runs: dict[Row, list[dict]] = {row: [] for row in rows}
    for round_ in range(args.rounds):
        for row in rows:
            result = run_row(row, args)
            runs[row].append(result)
            print(f"<!-- round {round_ + 1}: {row.label()}: {_summary(result)} -->", flush=True)
    return {row: _median(results) for row, results in runs.items()}


def _summary(result: dict) -> str:
    """One line of a row's result, printed as soon as it is known."""
    if "seconds" not in result:
        return "out of memory" if result.get("oom") else f"failed: {result.get('error')}"
    text = (
        f"{result['images_per_s']:.2f} images/s, ratio to matmul {result['ratio']:.2f}, "
        f"peak {result['peak_mib']:,.0f} MiB"
    )
    if "bf16_bpd_difference" in result:
        text += f", bf16 - float32 loss {result['bf16_bpd_difference']:.2g} bits/dim"
    return text


def _median(results: list[dict]) -> dict:
    good = [r for r in results if "error" not in r and not r.get("oom")]
    if not good:
        return results[-1]
    return {key: statistics.median(r[key] for r in good) for key in good[0]}


def largest_batch(
    row: Row, batches: list[int], first: int, args: argparse.Namespace
) -> tuple[Row, dict]:
    """The largest of `batches` whose training step fits: `first` is tried first, then larger
    ones while they fit, or smaller ones until one does."""
    batches = sorted(batches)
    found: tuple[Row, dict] | None = None
    index = batches.index(first)
    step = 0
    while 0 <= index < len(batches):
        candidate = dataclasses.replace(row, batch=batches[index])
        result = run_row(candidate, args)
        print(f"<!-- {candidate.label()}: {_summary(result)} -->", flush=True)
        fits = "seconds" in result
        if fits or found is None or "seconds" not in found[1]:
            found = (candidate, result)
        step = step or (1 if fits else -1)
        if fits != (step > 0):
            break
        index += step
    assert found is not None
    return found


# ------------------------------------------------------------------------------------- suites


def targets_rows(args: argparse.Namespace) -> dict[str, Row]:
    """The rows the issue's CPU targets are read from (Full-Glow, coupling width 512)."""
    base = Row("fullglow", "train", 8, size=(64, 64), blocks=3, depth=8, hidden=512)
    base = dataclasses.replace(base, bf16=args.bf16, channels_last=args.channels_last)
    big = dataclasses.replace(base, batch=args.big_batch, size=(128, 128), blocks=4)
    return {
        "train b1": dataclasses.replace(base, batch=1),
        "train b8": base,
        "sample b1": dataclasses.replace(base, task="sample", batch=1),
        "sample b16": dataclasses.replace(base, task="sample", batch=16),
        "128 plain": big,
        "128 saving": dataclasses.replace(big, mode="memory-saving"),
        "128 saving K4": dataclasses.replace(big, mode="memory-saving", depth=4),
        "128 saving K16": dataclasses.replace(big, mode="memory-saving", depth=16),
    }


def grid_rows(args: argparse.Namespace, models: list[str]) -> list[Row]:
    rows = []
    for model in models:
        base = Row(
            model, "train", 1, preset=args.preset, size=args.size, blocks=args.blocks,
            hidden=args.hidden, bf16=args.bf16, channels_last=args.channels_last,
        )  # fmt: skip
        for depth in args.depths:
            for mode in args.modes:
                for batch in args.batch_sizes:
                    rows.append(dataclasses.replace(base, depth=depth, mode=mode, batch=batch))
            for batch in args.sample_batch_sizes:
                rows.append(dataclasses.replace(base, task="sample", depth=depth, batch=batch))
    return rows


GPU_LARGE_ROW = Row(
    "fullglow", "train", 1, "memory-saving", "paper-512x1024", None, None, None, None
)
GPU_LARGE_BATCHES = [1, 2, 4, 6, 8, 12, 16]


def gpu_rows() -> dict[str, Row]:
    """The GPU check: Full-Glow paper-256 (4 x 16) training and sampling."""
    paper = Row("fullglow", "train", 1, "plain", "paper-256", None, None, None, None)
    return {
        "train b1": paper,
        "train b8": dataclasses.replace(paper, batch=8),
        "train b32": dataclasses.replace(paper, batch=32),
        "saving b32": dataclasses.replace(paper, batch=32, mode="memory-saving"),
        "saving b32 bf16": dataclasses.replace(
            paper, batch=32, mode="memory-saving", bf16=True, channels_last="on"
        ),
        "sample b1": dataclasses.replace(paper, task="sample"),
        "sample b16": dataclasses.replace(paper, task="sample", batch=16),
    }


# ------------------------------------------------------------------------------------- tables


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_tables(results: dict[Row, dict], device: str) -> None:
    memory = "peak MiB" + (" (RSS)" if device == "cpu" else " (allocated)")
    for task, title in (
        ("train", "Training (the trainer's step: forward, backward, Adam)"),
        ("sample", "Sampling (`model.sample`, one batch per call)"),
    ):
        rows = [(row, r) for row, r in results.items() if row.task == task]
        if not rows:
            continue
        unit = "step" if task == "train" else "batch"
        print(f"\n### {title}\n")
        print(
            f"| model | image, blocks x K | batch | mode | images/s | s/{unit} | GFLOP/{unit} "
            f"| GFLOP/s | matmul GFLOP/s | ratio | {memory} | step MiB | load |"
        )
        print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for row, r in rows:
            print(
                f"| {row.model} | {row.geometry()} | {row.batch} | {row.variant()} | " + _cells(r)
            )
        for row, r in rows:
            if "bf16_bpd_difference" in r:
                print(
                    f"\n{row.label()}: the loss with bf16 networks differs from float32's by "
                    f"{r['bf16_bpd_difference']:.2g} bits/dim (goal < 0.01)."
                )


def _cells(r: dict) -> str:
    if "seconds" not in r:
        return ("out of memory" if r.get("oom") else f"failed: {r.get('error')}") + " |" * 9
    return (
        f"{r['images_per_s']:.2f} | {r['seconds']:.3f} | {r['gflop']:.1f} | {r['gflops']:.1f} | "
        f"{r['matmul_gflops']:.1f} | {r['ratio']:.2f} | {r['peak_mib']:,.0f} | "
        f"{r['step_mib']:,.0f} | {r['load']:.1f} |"
    )


def _check(name: str, value: float | None, target: str, met: bool | None) -> str:
    verdict = "-" if met is None else ("met" if met else "**not met**")
    return f"| {name} | {value if isinstance(value, str) else _fmt(value)} | {target} | {verdict} |"


def _get(results: dict[Row, dict], row: Row, key: str) -> float | None:
    return results.get(row, {}).get(key)


def print_cpu_targets(rows: dict[str, Row], results: dict[Row, dict]) -> None:
    def get(name: str, key: str) -> float | None:
        return _get(results, rows[name], key)

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a / b

    sample_ips, sample_mm = get("sample b16", "images_per_s"), get("sample b16", "matmul_gflops")
    # The reference's images/s scaled to this run's matmul rate (same machine type, any load).
    ref_ips = (
        None
        if sample_mm is None
        else REFERENCE_SAMPLE_IMAGES_PER_S * sample_mm / REFERENCE_MATMUL_GFLOPS
    )
    lines = [
        ("training 64x64 3x8 b8: GFLOP/s / matmul", get("train b8", "ratio"), ">= 0.70",
         lambda v: v >= 0.70),
        ("training 64x64 3x8 b1: GFLOP/s / matmul", get("train b1", "ratio"),
         "reference 0.45-0.50", None),
        ("sampling 16 at once: GFLOP/s / matmul", get("sample b16", "ratio"), ">= 0.70",
         lambda v: v >= 0.70),
        ("sampling 16 at once: images/s / reference's (scaled to this matmul)",
         ratio(sample_ips, ref_ips), ">= 1.4", lambda v: v >= 1.4),
        ("memory-saving / plain, 128x128 4x8: peak memory",
         ratio(get("128 saving", "peak_mib"), get("128 plain", "peak_mib")), "<= 0.5",
         lambda v: v <= 0.5),
        ("memory-saving / plain, 128x128 4x8: step memory (peak minus model and Adam state)",
         ratio(get("128 saving", "step_mib"), get("128 plain", "step_mib")), "-", None),
        ("memory-saving / plain, 128x128 4x8: step time",
         ratio(get("128 saving", "seconds"), get("128 plain", "seconds")), "<= 1.4",
         lambda v: v <= 1.4),
        ("memory-saving K=16 / K=4, 128x128: peak memory",
         ratio(get("128 saving K16", "peak_mib"), get("128 saving K4", "peak_mib")), "<= 1.3",
         lambda v: v <= 1.3),
        ("memory-saving K=16 / K=4, 128x128: step memory",
         ratio(get("128 saving K16", "step_mib"), get("128 saving K4", "step_mib")), "-", None),
    ]  # fmt: skip
    _print_targets(lines)


def print_gpu_targets(rows: dict[str, Row], results: dict[Row, dict], big: tuple[Row, dict]):
    rates = [
        r["images_per_s"] for row, r in results.items() if row.task == "train" and "seconds" in r
    ]
    best = max(rates) if rates else None
    hours = None if best is None else PAPER_TRAINING_IMAGES / best / 3600
    one = _get(results, rows["sample b1"], "images_per_s")
    sixteen = _get(results, rows["sample b16"], "images_per_s")
    speedup = None if one is None or sixteen is None else sixteen / one
    big_row, big_result = big
    fits = big_row.batch if "seconds" in big_result else 0
    lines = [
        ("paper's training (45 x 2975 images, 256x256, 4x16) at the best rate: hours", hours,
         "< 1", lambda v: v < 1),
        ("sampling at batch 16 / batch 1: images/s", speedup, ">= 8", lambda v: v >= 8),
        ("512x1024 4x8 memory-saving, 12 GiB cap: largest batch", float(fits), ">= 4",
         lambda v: v >= 4),
    ]  # fmt: skip
    _print_targets(lines)
    if "seconds" in big_result:
        r = big_result
        print(
            f"\n512x1024 at batch {fits}: {r['images_per_s']:.2f} images/s, "
            f"peak {r['peak_mib']:,.0f} MiB allocated, ratio to matmul {r['ratio']:.2f}"
        )


def _print_targets(lines) -> None:
    print("\n### Targets\n")
    print("| target | measured | goal | verdict |")
    print("|---|---:|---:|---|")
    for name, value, goal, test in lines:
        met = None if test is None or value is None else test(value)
        print(_check(name, value, goal, met))


def print_machine(args: argparse.Namespace) -> None:

    cpu = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = re.search(r"model name\s*:\s*(.*)", info.read()).group(1)
    except (OSError, AttributeError):
        pass
    where = f"{cpu}, {os.cpu_count()} logical CPUs, {args.threads} torch threads"
    if args.device != "cpu":
        # Asked in a child process: a CUDA context in this one would hold memory the rows need.
        name = subprocess.run(
            [sys.executable, "-c", f"import torch; print(torch.cuda.get_device_name({args.device!r}))"],
            capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        where += f"; {name or args.device}, TF32 {'on' if args.tf32 else 'off'}"
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"Machine: {where}; torch {torch.__version__}; channels-last {args.channels_last}; "
        f"load average (1/5/15 min) at the start: {load}; {args.rounds} round(s), "
        f"{args.warmup} warm-up + {args.steps} timed steps per row, matmul {args.matmul_size}^2."
    )


# --------------------------------------------------------------------------------------- main


def _size(text: str) -> tuple[int, int]:
    height, _, width = text.partition("x")
    return int(height), int(width or height)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", choices=("targets", "sweep", "grid", "gpu"), default="targets")
    parser.add_argument("--model", nargs="+", default=["fullglow"], help="flow names or 'all'")
    parser.add_argument("--preset", default="tiny", help="preset the options below override")
    parser.add_argument("--size", type=_size, default=(64, 64), help="HxW (grid, sweep)")
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=512, help="coupling network width")
    parser.add_argument("--depths", type=int, nargs="+", default=[8], help="K values (grid)")
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[1, 8])
    parser.add_argument("--sample-batch-sizes", type=int, nargs="*", default=[1, 16])
    parser.add_argument("--modes", nargs="+", default=["plain"], choices=("plain", "memory-saving"))
    parser.add_argument("--big-batch", type=int, default=1, help="batch of the 128x128 rows")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per row")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--matmul-size", type=int, default=None, help="default 2048 (CPU), 8192")
    parser.add_argument(
        "--channels-last", choices=("auto", "on", "off"), default="auto",
        help="layout of the coupling and conditioning networks (auto: channels-last on the CPU)",
    )  # fmt: skip
    parser.add_argument("--tf32", action="store_true", help="TF32 matmuls and convolutions (GPU)")
    parser.add_argument(
        "--bf16", action="store_true", help="bfloat16 coupling and conditioning networks"
    )
    parser.add_argument("--memory-cap-gib", type=float, default=None)
    parser.add_argument("--row-timeout", type=float, default=1800, help="seconds per row")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.matmul_size is None:
        args.matmul_size = 2048 if args.device == "cpu" else 8192
    if args.model == ["all"]:
        args.model = list(FLOW_MODELS)
    if args.suite == "sweep":
        args.batch_sizes, args.depths = [1, 4, 16], [4, 8, 16]
        args.modes = ["plain", "memory-saving"]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.worker:
        row = Row(**{**json.loads(args.worker)})
        row = dataclasses.replace(row, size=tuple(row.size) if row.size else None)
        print(json.dumps(worker(row, args)))
        return
    print_machine(args)
    if args.suite == "targets":
        rows = targets_rows(args)
        results = measure(list(rows.values()), args)
        print_tables(results, args.device)
        print_cpu_targets(rows, results)
    elif args.suite == "gpu":
        rows = gpu_rows()
        results = measure(list(rows.values()), args)
        print_tables(results, args.device)
        capped = argparse.Namespace(
            **{**vars(args), "memory_cap_gib": 12.0, "steps": 1, "warmup": 1}
        )
        found = largest_batch(GPU_LARGE_ROW, GPU_LARGE_BATCHES, 4, capped)
        print_tables({found[0]: found[1]}, args.device)
        print_gpu_targets(rows, results, found)
    else:
        print_tables(measure(grid_rows(args, args.model), args), args.device)
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\nLoad average (1/5/15 min) at the end: {load}.")


if __name__ == "__main__":
    main()
