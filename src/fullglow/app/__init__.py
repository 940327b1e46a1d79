"""`fullglow app`: a local page to paint a label map and get its photos from a trained model.

Modules: `canvas` (palette, snapping painted colours, upload checks, resizing to the model),
`synthesis` (sampling with bits/dim, content transfer, the Cityscapes zip), `handlers` (what each
control does, on plain arrays), `page` (the Gradio layout; the only module importing Gradio) and
`launch` (configuring Gradio safely and serving). Gradio is the optional `app` extra.
"""
