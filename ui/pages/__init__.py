"""The app's pages: each module has ``layout(ctx)`` and ``register(app, ctx)``.

Callback bodies are module-level functions of plain values (tested without a browser);
``register`` only wires them to component ids.
"""

from __future__ import annotations

from dash import dcc, html

# What the browser sends at most: above it dcc.Upload drops a file, and ui/assets/
# upload_limit.js shows the wrapper's message instead. Set above the server's limits, so a
# file between the two reaches the server, which says what its limit is.
MAX_UPLOAD_BYTES = 8_000_000


def message(text: str, kind: str = "info") -> html.Div:
    """A message box: ``kind`` is ``error``, ``warning``, ``ok`` or ``info``."""
    return html.Div(text, className=f"msg-{kind}")


def field(label: str, component) -> html.Div:
    return html.Div([html.Label(label, htmlFor=component.id), component])


def upload(id_: str, prompt: str, message_id: str, kind: str, max_bytes: int) -> html.Div:
    """A ``dcc.Upload`` whose too-large files get a message in ``message_id`` (a ``kind`` of
    file is limited to ``max_bytes``) instead of being dropped silently by the browser."""
    return html.Div(
        dcc.Upload(id=id_, className="upload", children=html.Div(prompt),
                   max_size=MAX_UPLOAD_BYTES),
        **{
            "data-max-bytes": str(MAX_UPLOAD_BYTES),
            "data-message-id": message_id,
            "data-too-large": f"{{name}}: {{size}} bytes; a {kind} is limited to {max_bytes} "
                              "bytes (nothing was uploaded)",
        },
    )  # fmt: skip
