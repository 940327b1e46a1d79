"""End to end: the real page of `fullglow app` in headless Chromium (the `app` extra).

CI installs Gradio, Playwright and Debian's chromium (.ci/run); elsewhere the test is skipped when
one is missing, but never under CI.
"""

from __future__ import annotations

import importlib.util
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from app_browser import CHROMIUM, PHOTOS_LOADED, browser_page, paint_stroke, serving
from fullglow.data.labels import LABEL_BY_NAME
from fullglow.models.registry import build_model

MISSING = [name for name in ("gradio", "playwright") if importlib.util.find_spec(name) is None] + (
    [] if CHROMIUM.is_file() else [str(CHROMIUM)]
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING) and not os.environ.get("CI"), reason=f"app extra missing: {MISSING}"
    ),
]

SIZE = (32, 64)  # the demo preset's (H, W)
SCALE = 8  # the canvas is 256x512


@pytest.fixture(scope="module")
def demo_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained demo-preset Full-Glow (data-initialised actnorm), saved as a model folder."""
    torch.manual_seed(0)
    model = build_model("fullglow", preset="demo")
    model.initialize(torch.rand(4, 3, *SIZE), torch.rand(4, 3, *SIZE))
    path = tmp_path_factory.mktemp("app") / "model"
    model.save(path)
    return path


def test_paint_a_car_generate_and_download(demo_model: Path, tmp_path: Path) -> None:
    assert not MISSING, f"CI must install the app extra and chromium: {MISSING}"
    with serving(demo_model, "--threads", "1") as url, browser_page(url) as (page, external):
        canvas = (SIZE[1] * SCALE, SIZE[0] * SCALE)
        assert page.locator("#paint-class input").input_value() == "car"
        # a stroke of car along model row 24, from column 16 to 40
        paint_stroke(page, canvas, (16 * SCALE, 24.5 * SCALE), (40 * SCALE, 24.5 * SCALE))
        page.click("#generate")
        page.wait_for_function(PHOTOS_LOADED, arg=4, timeout=60_000)
        sizes = page.locator("#photos img").evaluate_all(
            "els => els.map(e => [e.naturalHeight, e.naturalWidth])"
        )
        assert sizes == [list(SIZE)] * 4
        assert page.get_by_text("sample 1:").first.inner_text().endswith("bits/dim")

        link = page.locator("#download a").first
        link.wait_for(timeout=30_000)
        href = link.get_attribute("href")
        served = Path(href.split("file=", 1)[1])
        outputs = next(p for p in served.parents if p.name.startswith("fullglow-app-"))
        assert outputs.is_dir()
        response = page.request.get(href)
        assert response.ok
        with zipfile.ZipFile(io.BytesIO(response.body())) as archive:
            names = archive.namelist()
            label_name = next(n for n in names if n.endswith("_gtFine_labelIds.png"))
            label = np.asarray(Image.open(io.BytesIO(archive.read(label_name))))
            photo = Image.open(
                io.BytesIO(archive.read(next(n for n in names if "leftImg8bit" in n)))
            )
        assert label.shape == SIZE and photo.size == (SIZE[1], SIZE[0])
        rows, cols = np.nonzero(label == LABEL_BY_NAME["car"].id)
        assert rows.size > 0, "no car pixels in the downloaded label"
        assert 22 <= rows.min() and rows.max() <= 27  # the stroke's row, brush radius 12 / 8
        assert 13 <= cols.min() <= 17 and 39 <= cols.max() <= 43
        assert (label[24, 17:40] == LABEL_BY_NAME["car"].id).all()
        assert (label[:10] == LABEL_BY_NAME["sky"].id).all()  # the rest of the scene untouched

        # the server hands out its outputs, nothing else
        outside = page.request.get(f"{url}/gradio_api/file={demo_model / 'config.json'}")
        assert outside.status in (403, 404)

        # an upload that is not a label is refused with a message on the page
        bad = tmp_path / "photo.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 64, 3), np.uint8)).save(bad)
        page.set_input_files("#paint-upload input[type=file]", str(bad))
        message = page.get_by_text("far from every class colour").first
        message.wait_for(timeout=30_000)
        assert "Traceback" not in page.content()
        assert external == [], f"the page fetched from the internet: {external}"
    assert not outputs.exists(), "the outputs folder outlived the server (SIGTERM)"
