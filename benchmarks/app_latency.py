"""Click-to-photos latency of `fullglow app`, measured in the real page (headless Chromium).

    python benchmarks/app_latency.py                 # demo-preset Full-Glow, 4 samples, 32x64
    python benchmarks/app_latency.py --run RUN --clicks 10 --samples 4 --threads 1

Starts `fullglow app` on a free local port, opens the page in Debian's Chromium under Playwright,
paints one stroke and clicks "Generate" `--clicks` times with a new seed each time, timing from the
click until the gallery shows every photo decoded (what a user waits for); beside it, the model's
own share (`PageHandlers.generate` in this process, same threads). Without `--run` it builds and
saves an untrained demo-preset Full-Glow (data-initialised actnorm; same cost as a trained one).
Prints a table with the load average, since the machine may be shared. Target (issue 16): under
2 s on the 2-core CPU for 4 samples at 32x64.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from app_browser import browser_page, paint_stroke, serving  # noqa: E402
from fullglow.app.canvas import paint_scale  # noqa: E402
from fullglow.app.handlers import PageHandlers  # noqa: E402
from fullglow.models.registry import build_model  # noqa: E402
from fullglow.training.runs import load_run  # noqa: E402

SOURCES = "() => [...document.querySelectorAll('#photos img')].map(e => e.src)"
NEW_PHOTOS_LOADED = """([count, old]) => {
    const images = [...document.querySelectorAll('#photos img')];
    return images.length >= count
        && images.every(e => !old.includes(e.src) && e.complete && e.naturalWidth > 0);
}"""


def demo_model(folder: Path) -> Path:
    torch.manual_seed(0)
    model = build_model("fullglow", preset="demo")
    size = model.config.image_size
    model.initialize(torch.rand(4, 3, *size), torch.rand(4, 3, *size))
    model.save(folder / "model")
    return folder / "model"


def page_latencies(run: Path, clicks: int, samples: int, threads: int) -> list[float]:
    size = load_run(run).image_size
    scale = paint_scale(size)
    canvas = (size[1] * scale, size[0] * scale)
    latencies = []
    with serving(run, "--threads", str(threads)) as url, browser_page(url) as (page, _):
        paint_stroke(
            page, canvas, (canvas[0] * 0.25, canvas[1] * 0.75), (canvas[0] * 0.6, canvas[1] * 0.75)
        )
        page.fill("#samples input[type=number]", str(samples))
        page.press("#samples input[type=number]", "Enter")
        for click in range(clicks):
            page.fill("#seed input", str(click + 1))
            old = page.evaluate(SOURCES)
            start = time.perf_counter()
            page.click("#generate")
            page.wait_for_function(NEW_PHOTOS_LOADED, arg=[samples, old], timeout=60_000)
            latencies.append(time.perf_counter() - start)
    return latencies


def handler_latencies(run: Path, clicks: int, samples: int, threads: int) -> list[float]:
    torch.set_num_threads(threads)
    loaded = load_run(run)
    with tempfile.TemporaryDirectory() as outputs:
        handlers = PageHandlers(loaded.model, None, Path(outputs))
        value = handlers.empty()
        handlers.generate(value, 0.8, samples, 0)
        times = []
        for click in range(clicks):
            start = time.perf_counter()
            handlers.generate(value, 0.8, samples, click + 1)
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run", type=Path, default=None, help="run or model folder (default: demo)"
    )
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run = args.run or demo_model(Path(folder))
        handler = handler_latencies(run, args.clicks, args.samples, args.threads)
        page = page_latencies(run, args.clicks, args.samples, args.threads)
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"fullglow app, {args.samples} samples per click, {args.clicks} clicks, "
        f"{args.threads} thread(s), load average {load}"
    )
    print("| what | median | min | max |")
    print("| :-- | --: | --: | --: |")
    for name, times in (("click to photos shown (page)", page), ("model + zip (handler)", handler)):
        print(
            f"| {name} | {statistics.median(times):.2f} s | {min(times):.2f} s | {max(times):.2f} s |"
        )


if __name__ == "__main__":
    main()
