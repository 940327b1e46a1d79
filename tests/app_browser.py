"""Driving `fullglow app` in a real browser: Debian's headless Chromium under Playwright.

Playwright is pointed at `/usr/bin/chromium` (never `playwright install`, which downloads a
browser). Used by tests/test_app_page.py and benchmarks/app_latency.py.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PHOTOS_LOADED = """count => {
    const images = [...document.querySelectorAll('#photos img')];
    return images.length >= count && images.every(e => e.complete && e.naturalWidth > 0);
}"""
"""A `wait_for_function` script: true once the gallery shows `count` decoded photos."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(run: Path, *options: str, timeout: float = 120.0) -> Iterator[str]:
    """Run `fullglow app --run RUN` on a free local port; yields its URL, stops it afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "fullglow", "app", "--run", str(run), "--port", str(port)]
    log = tempfile.TemporaryFile()
    server = subprocess.Popen([*command, *options], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"fullglow app exited: {log.read().decode()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError("fullglow app did not start") from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@contextmanager
def browser_page(url: str, width: int = 1300, height: int = 1400) -> Iterator[tuple[object, list]]:
    """A Chromium page on `url` with a fresh profile; yields it and the list of every request it
    made to another origin (aborted, so the page must render without them)."""
    from playwright.sync_api import sync_playwright

    external: list[str] = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
        )

        def route(request_route: object) -> None:
            address = request_route.request.url
            if address.startswith((url, "data:", "blob:")):
                request_route.continue_()
            else:
                external.append(address)
                request_route.abort()

        try:
            page = context.new_page()
            page.route("**/*", route)
            page.goto(url)
            page.locator("#paint-canvas canvas").first.wait_for(timeout=60_000)
            yield page, external
        finally:
            context.close()


def canvas_rect(page: object, canvas_size: tuple[int, int]) -> tuple[float, float, float]:
    """`(left, top, zoom)` of the painted image inside the editor: it is drawn centred in the
    editor's canvas element at the zoom its toolbar shows; `canvas_size` is `(W, H)` in pixels."""
    box = page.locator("#paint-canvas canvas").first.bounding_box()
    zoom_text = page.locator("#paint-canvas").get_by_text(re.compile(r"^\d+%$")).first.inner_text()
    zoom = int(zoom_text.rstrip("%")) / 100
    left = box["x"] + (box["width"] - canvas_size[0] * zoom) / 2
    top = box["y"] + (box["height"] - canvas_size[1] * zoom) / 2
    return left, top, zoom


def paint_stroke(
    page: object, canvas_size: tuple[int, int], start: tuple[float, float], end: tuple[float, float]
) -> None:
    """Drag the mouse from `start` to `end`, in canvas pixels `(x, y)`, with the current brush."""
    left, top, zoom = canvas_rect(page, canvas_size)
    page.mouse.move(left + start[0] * zoom, top + start[1] * zoom)
    page.mouse.down()
    for k in range(1, 21):
        x = start[0] + (end[0] - start[0]) * k / 20
        y = start[1] + (end[1] - start[1]) * k / 20
        page.mouse.move(left + x * zoom, top + y * zoom)
    page.mouse.up()
