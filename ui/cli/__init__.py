"""The ``aign`` command line (``ui.cli:main``)."""

from ui.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
