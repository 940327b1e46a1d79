"""Sampling and likelihood throughput of a model, batched versus one image at a time.

    python benchmarks/bench_sampling.py                                  # fullglow demo, CPU/GPU
    python benchmarks/bench_sampling.py --model fullglow --preset paper-256 --device cuda
    python benchmarks/bench_sampling.py --run RUN --batch-sizes 1,16,32

Prints a Markdown table of images per second for `model.sample` (what `fullglow sample`,
`evaluate` and `augment` call, one call per batch) and for `model.log_prob` (the conditional BPD),
at each batch size. Random labels are enough: the cost of a flow does not depend on its inputs'
values. Weights are a fresh model's unless `--run` is given. Timings exclude the first
(warm-up) call and synchronise CUDA before reading the clock.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn

from fullglow.cli.args import image_size
from fullglow.models.registry import build_model
from fullglow.training.distributed import resolve_device
from fullglow.training.runs import load_run


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(
    call: Callable[[], object], batch: int, device: torch.device, min_seconds: float
) -> float:
    """Calls `call` (one batch) until `min_seconds` have passed, after one warm-up call."""
    call()
    _synchronise(device)
    calls, start = 0, time.perf_counter()
    while True:
        call()
        calls += 1
        _synchronise(device)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls * batch / elapsed


def inputs(model: nn.Module, batch: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    height, width = model.config.image_size
    generator = torch.Generator(device=device).manual_seed(0)
    cond = torch.rand(batch, 3, height, width, device=device, generator=generator)
    photo = torch.rand(batch, 3, height, width, device=device, generator=generator)
    side_channels = getattr(model.config, "side_channels", 0)
    side = (
        (torch.rand(batch, side_channels, height, width, device=device) > 0.9).float()
        if side_channels
        else None
    )
    return photo, cond, side


@torch.no_grad()
def bench_row(
    model: nn.Module, batch: int, device: torch.device, seconds: float
) -> tuple[float, float | None]:
    """`(sample images/s, log_prob images/s or None without a likelihood)` at one batch size."""
    photo, cond, side = inputs(model, batch, device)
    generator = torch.Generator(device=device).manual_seed(0)
    if not model.has_likelihood:
        rate = images_per_second(
            lambda: model.sample(cond, generator=generator, side=side), batch, device, seconds
        )
        return rate, None
    rate = images_per_second(
        lambda: model.sample(cond, temperature=0.8, generator=generator, side=side),
        batch, device, seconds,
    )  # fmt: skip
    density = images_per_second(lambda: model.log_prob(photo, cond, side), batch, device, seconds)
    return rate, density


def bench(model: nn.Module, batch_sizes: list[int], device: torch.device, seconds: float) -> None:
    height, width = model.config.image_size
    name = getattr(model, "name", type(model).__name__)
    print("| model | size | device | batch | sample (img/s) | log_prob (img/s) |")
    print("|---|---|---|--:|--:|--:|")
    for batch in batch_sizes:
        rate, density = bench_row(model, batch, device, seconds)
        density_cell = "—" if density is None else f"{density:.1f}"
        print(f"| {name} | {height}x{width} | {device} | {batch} | {rate:.1f} | {density_cell} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="fullglow", help="registry name (default fullglow)")
    parser.add_argument("--preset", default="demo", help="preset (default demo, 32x64)")
    parser.add_argument("--image-size", type=image_size, default=None, metavar="HxW")
    parser.add_argument("--run", default=None, help="benchmark a trained run's model instead")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--batch-sizes", default="1,16", help="comma-separated (default 1,16)")
    parser.add_argument("--seconds", type=float, default=3.0, help="timing per cell (default 3)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.run:
        model = load_run(args.run, "best", device).model
    else:
        options = {} if args.image_size is None else {"image_size": args.image_size}
        model = build_model(args.model, args.preset, **options).to(device).eval()
    bench(model, [int(b) for b in args.batch_sizes.split(",")], device, args.seconds)


if __name__ == "__main__":
    main()
