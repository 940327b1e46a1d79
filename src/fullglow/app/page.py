"""The page: one Gradio `Blocks` app over `PageHandlers` (`build_app`), and serving it (`serve`).

Gradio is imported here only (import this through `fullglow.app.launch`, which configures it
first), so the core install never needs it. The browser loads nothing but this server's own files:
Gradio's frontend and its fonts ship in the package.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import gradio as gr

from fullglow.app.canvas import MAX_UPLOAD_BYTES, PALETTE, hex_colour, paint_scale
from fullglow.app.handlers import PageHandlers
from fullglow.app.synthesis import MAX_SAMPLES
from fullglow.errors import UserInputError

log = logging.getLogger(__name__)

MODEL_QUEUE = "model"
"""The concurrency group of every event that runs the model: one request at a time."""

CSS = """
.pixelated img, .pixelated canvas { image-rendering: pixelated; }
.swatches { display: flex; flex-wrap: wrap; gap: 4px 12px; font-size: 0.9em; }
.swatch { display: inline-block; width: 1em; height: 1em; margin-right: 4px;
          vertical-align: middle; border: 1px solid #888; }
"""


def _shown(handler: Callable[..., Any]) -> Callable[..., Any]:
    """`handler` with its `UserInputError`s turned into messages on the page (no traceback)."""

    def call(*args: Any) -> Any:  # noqa: ANN401 - Gradio passes the components' values
        try:
            return handler(*args)
        except UserInputError as err:
            raise gr.Error(str(err), print_exception=False) from None

    call.__name__ = handler.__name__
    return call


def _legend() -> str:
    items = "".join(
        f'<span><span class="swatch" style="background:{hex_colour(label)}"></span>'
        f"{label.name}</span>"
        for label in PALETTE
    )
    return f'<div class="swatches">{items}</div>'


def brush_for(class_name: str) -> gr.Brush:
    """The fixed-palette brush with `class_name`'s colour selected."""
    colours = [hex_colour(label) for label in PALETTE]
    chosen = next(hex_colour(label) for label in PALETTE if label.name == class_name)
    return gr.Brush(colors=colours, default_color=chosen, color_mode="fixed", default_size=12)


def _editor(handlers: PageHandlers, label: str, elem_id: str) -> gr.ImageEditor:
    height, width = handlers.image_size
    scale = paint_scale(handlers.image_size)
    return gr.ImageEditor(
        value=handlers.empty(),
        label=label,
        elem_id=elem_id,
        image_mode="RGB",
        type="numpy",
        format="png",  # lossless: the default webp would blur the class colours
        sources=(),
        transforms=(),
        layers=False,
        brush=brush_for("car"),
        eraser=gr.Eraser(default_size=12),
        canvas_size=(width * scale, height * scale),
        fixed_canvas=True,
        buttons=[],
        elem_classes="pixelated",
    )


def _class_picker(elem_id: str) -> gr.Dropdown:
    return gr.Dropdown(
        [label.name for label in PALETTE], value="car", label="paint with", elem_id=elem_id
    )


def build_app(handlers: PageHandlers, title: str) -> gr.Blocks:
    """The page over `handlers`: a "Paint a street" tab and, for flows, a "Content transfer" tab."""
    flow = handlers.has_likelihood
    options = handlers.options
    height, width = handlers.image_size
    with gr.Blocks(title=title, analytics_enabled=False) as app:
        gr.Markdown(
            f"## {title}\nPaint a label map at the model's {height}x{width} (shown "
            f"{paint_scale(handlers.image_size)}x larger); painted colours snap to the nearest "
            "class colour. Uploads: PNG or JPEG up to "
            f"{MAX_UPLOAD_BYTES // 2**20} MiB, label ids or official colours."
        )
        gr.HTML(_legend())
        with gr.Tab("Paint a street"):
            with gr.Row():
                with gr.Column(scale=3):
                    picker = _class_picker("paint-class")
                    editor = _editor(handlers, "canvas", "paint-canvas")
                with gr.Column(scale=2):
                    preview = gr.Image(
                        handlers.preview(handlers.empty()),
                        label="the label the model reads",
                        interactive=False,
                        elem_id="paint-preview",
                        format="png",
                        elem_classes="pixelated",
                        buttons=[],
                    )
                    note = gr.Markdown(elem_id="paint-note")
            with gr.Row():
                empty = gr.Button("empty scene")
                val = gr.Dropdown(
                    handlers.val_names(),
                    value=None,
                    label="start from a val label",
                    visible=bool(handlers.val_names()),
                )
                upload = gr.File(
                    label="or upload a *_labelIds.png / colour label",
                    file_types=["image"],
                    elem_id="paint-upload",
                )
            with gr.Row():
                temperature = gr.Slider(
                    0.0, 1.0, value=0.8, step=0.05, label="temperature", visible=flow
                )
                count = gr.Slider(
                    1, MAX_SAMPLES, value=4, step=1, label="number of samples", elem_id="samples"
                )
                seed = gr.Number(0, precision=0, minimum=0, label="seed", elem_id="seed")
            with gr.Row(visible=flow and (options.guidance or options.denoise_sigma is not None)):
                guidance = gr.Slider(
                    0.0, 3.0, value=1.0, step=0.1, visible=options.guidance,
                    label="guidance w (1: the conditional model; log p does not describe guided "
                    "samples)",
                )  # fmt: skip
                denoise = gr.Checkbox(
                    False, visible=options.denoise_sigma is not None,
                    label=f"denoise (one score step, sigma {options.denoise_sigma})",
                )  # fmt: skip
            generate = gr.Button("Generate", variant="primary", elem_id="generate")
            gallery = gr.Gallery(
                label="photos" + (" (bits/dim of each as saved)" if flow else ""),
                columns=4,
                object_fit="contain",
                elem_id="photos",
                format="png",
                elem_classes="pixelated",
                buttons=[],
            )
            download = gr.File(label="scene in the Cityscapes layout", elem_id="download")

        def on_generate(  # noqa: ANN202
            value: Any,
            t: float,
            n: float,
            s: float,
            w: float,
            d: bool,  # noqa: ANN401
        ):
            result = handlers.generate(value, t, int(n), int(s or 0), w, bool(d))
            items = list(zip(result.photos.images, result.captions, strict=True))
            return handlers.preview(value), items, str(result.zip_path)

        picker.change(lambda name: gr.update(brush=brush_for(name)), picker, editor)

        def with_preview(start: tuple[Any, str]) -> tuple[Any, Any, str]:
            value, message = start
            return value, handlers.preview(value), message

        empty.click(
            _shown(lambda: with_preview((handlers.empty(), ""))), None, [editor, preview, note]
        )
        val.input(
            _shown(lambda name: with_preview(handlers.from_val(name))), val, [editor, preview, note]
        )
        upload.upload(
            _shown(lambda path: with_preview(handlers.from_upload(path))),
            upload,
            [editor, preview, note],
        )
        # not on `change`, which the editor fires around every event that reads it: each call
        # uploads the canvas again and delays the photos
        editor.apply(_shown(handlers.preview), editor, preview, show_progress="hidden")
        generate.click(
            _shown(on_generate),
            [editor, temperature, count, seed, guidance, denoise],
            [preview, gallery, download],
            concurrency_id=MODEL_QUEUE,
        )
        if flow:
            _transfer_tab(handlers)
    app.queue(default_concurrency_limit=1)
    return app


def _transfer_tab(handlers: PageHandlers) -> None:
    with gr.Tab("Content transfer"):
        gr.Markdown(
            "Upload a photo and its label, paint the new structure, and get the photo's content "
            "under it (the photo's latents decoded under the new label). Scaling the latents "
            "below 1 keeps a briefly trained model's decoding from diverging."
        )
        source = gr.State()
        with gr.Row():
            photo = gr.File(label="photo", file_types=["image"], elem_id="transfer-photo")
            label = gr.File(label="its label", file_types=["image"], elem_id="transfer-label")
        note = gr.Markdown()
        with gr.Row():
            with gr.Column(scale=3):
                picker = _class_picker("transfer-class")
                editor = _editor(handlers, "new structure", "transfer-canvas")
            with gr.Column(scale=2):
                result = gr.Image(
                    label="the photo's content under the new structure (enlarged)",
                    format="png",
                    interactive=False,
                    elem_classes="pixelated",
                    buttons=[],
                )
        scale = gr.Slider(0.05, 1.0, value=1.0, step=0.05, label="latent scale")
        run = gr.Button("Transfer", variant="primary")

        def on_upload(photo_path: str | None, label_path: str | None) -> tuple[Any, ...]:
            if photo_path is None or label_path is None:
                return gr.update(), gr.update(), "upload both a photo and its label"
            return handlers.load_content(photo_path, label_path)

        picker.change(lambda name: gr.update(brush=brush_for(name)), picker, editor)
        for upload in (photo, label):
            upload.upload(_shown(on_upload), [photo, label], [source, editor, note])

        def on_transfer(state: Any, value: Any, latent_scale: float) -> Any:  # noqa: ANN401
            photo = handlers.transfer(state, value, latent_scale)
            enlarge = paint_scale(handlers.image_size)  # shown as large as the canvas
            return photo.repeat(enlarge, axis=0).repeat(enlarge, axis=1)

        run.click(_shown(on_transfer), [source, editor, scale], result, concurrency_id=MODEL_QUEUE)


def serve(
    handlers: PageHandlers, title: str, host: str, port: int, block: bool = True
) -> gr.Blocks:
    """Serve the page on `host:port`: no share link, no analytics, no API page, no SSR.

    Gradio serves its own assets and the files in its cache folder (`GRADIO_TEMP_DIR`, set by
    `fullglow.app.launch.launch` to the page's outputs folder), nothing else (`allowed_paths=[]`).
    """
    app = build_app(handlers, title)
    app.launch(
        server_name=host,
        server_port=port,
        share=False,
        inbrowser=False,
        prevent_thread_lock=not block,
        show_error=False,
        max_file_size=MAX_UPLOAD_BYTES,
        allowed_paths=[],
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        footer_links=[],
        quiet=True,
        css=CSS,
    )
    return app
