"""The app's pages: each module has ``layout(ctx)`` and ``register(app, ctx)``.

Callback bodies are module-level functions of plain values (tested without a browser);
``register`` only wires them to component ids.
"""

from __future__ import annotations

import logging
import os
import re

from dash import dcc, html

log = logging.getLogger("aign.ui")
# Folders whose absolute paths never reach a page (AIGN_HOME, the app's cache): each is
# shown as its name instead (create_app registers them).
_HIDDEN_PATHS: dict[str, str] = {}
MAX_MESSAGE_CHARS = 2000  # a message longer than this is cut (an error can quote input)
# How often a page asks about its running job (ms): Dash's default, a second, left the bar
# at 0 through jobs of a second or two and moved it in jumps.
PROGRESS_POLL_MS = 250


def hide_path(path: str | os.PathLike, shown_as: str) -> None:
    """Show ``path`` (and what it resolves to) as ``shown_as`` in every page message."""
    for form in {os.fspath(path), os.path.realpath(path)}:
        if form and form != os.sep:
            _HIDDEN_PATHS[form.rstrip(os.sep)] = shown_as


def public_text(text: str) -> str:
    """``text`` without internal absolute paths, cut to :data:`MAX_MESSAGE_CHARS`."""
    for path in sorted(_HIDDEN_PATHS, key=len, reverse=True):
        text = text.replace(path, _HIDDEN_PATHS[path])
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + " ..."
    return re.sub(r"/tmp/aign-ui-cache-[A-Za-z0-9_]+", "<cache>", text)


def unexpected(what: str, err: BaseException) -> html.Div:
    """An error that is a bug: logged for the operator with its traceback; the page gets one
    line without the exception's text (it can name internals)."""
    log.error("%s failed", what, exc_info=err)
    return message(f"{what} failed: an unexpected error ({type(err).__name__}); it was logged "
                   "for the operator (the server log)", "error")  # fmt: skip

# What the browser sends at most: above it dcc.Upload drops a file, and ui/assets/
# upload_limit.js shows the wrapper's message instead. Set above the server's limits, so a
# file between the two reaches the server, which says what its limit is.
MAX_UPLOAD_BYTES = 8_000_000


def message(text: str, kind: str = "info") -> html.Div:
    """A message box: ``kind`` is ``error``, ``warning``, ``ok`` or ``info``. Internal paths
    are hidden (:func:`public_text`)."""
    return html.Div(public_text(str(text)), className=f"msg-{kind}")


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
