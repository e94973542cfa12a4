"""The app's pages: each module has ``layout(ctx)`` and ``register(app, ctx)``.

Callback bodies are module-level functions of plain values (tested without a browser);
``register`` only wires them to component ids.
"""

from __future__ import annotations

from dash import html


def message(text: str, kind: str = "info") -> html.Div:
    """A message box: ``kind`` is ``error``, ``warning``, ``ok`` or ``info``."""
    return html.Div(text, className=f"msg-{kind}")


def field(label: str, component) -> html.Div:
    return html.Div([html.Label(label, htmlFor=component.id), component])
