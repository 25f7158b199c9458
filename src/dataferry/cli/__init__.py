"""The ``dataferry`` command line: thin commands over the public Python API."""

from dataferry.cli.main import app, main

__all__ = ["app", "main"]
