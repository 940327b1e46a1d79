"""Serving the page: Gradio configured for a local, offline, private page, then imported.

Gradio reads its telemetry switch and cache folder from the environment when it is imported, so
`launch` sets them first: no analytics, the Hugging Face hub offline, and a fresh folder as the
cache, which thereby holds every file the page serves (uploads and results) and is removed on exit.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from fullglow.app.handlers import PageHandlers
from fullglow.errors import UserInputError
from fullglow.training.runs import LoadedRun, RunOptions, display_name

log = logging.getLogger(__name__)

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def launch(run: LoadedRun, labels_root: Path | None, host: str, port: int) -> None:
    """Serve the page for `run` on `host:port` until interrupted.

    Raises:
        UserInputError: Gradio is not installed (the `app` extra), or DATA is not a dataset.
    """
    # SIGTERM (a service manager, a test) ends the server like Ctrl-C: the outputs are removed
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    outputs = Path(tempfile.mkdtemp(prefix="fullglow-app-"))
    os.environ["GRADIO_TEMP_DIR"] = str(outputs)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        try:
            from fullglow.app.page import serve
        except ModuleNotFoundError as err:
            if err.name != "gradio":
                raise
            raise UserInputError(
                'the app needs Gradio: pip install -e ".[app]" (or pip install "fullglow[app]")'
            ) from None
        handlers = PageHandlers(run.model, labels_root, outputs, RunOptions.of_run(run.path))
        handlers.generate(handlers.empty(), 0.8, 1, 0)  # warm up: the first click is not slower
        if host not in LOCAL_HOSTS:
            log.warning(
                "serving on %s: anyone who can reach this machine over the network can use the "
                "page and the model",
                host,
            )
        title = f"fullglow: {display_name(run.name)} from {run.path.name}"
        log.info("serving %s on http://%s:%d (Ctrl-C to stop)", title, host, port)
        serve(handlers, title, host, port)
    finally:
        shutil.rmtree(outputs, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
