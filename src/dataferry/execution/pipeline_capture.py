"""``dataferry graph FILE.py``: the pipeline a file would submit, without submitting it.

The file runs as ``__main__`` until it submits: that submit raises ``_Captured`` (a
``BaseException``, so a ``try: ... except Exception`` in the file does not swallow it)
and nothing is recorded or started. A file that submits nothing gives its module-level
``pipeline``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from dataferry.errors import PipelineError

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry.execution.pipeline import Pipeline

_capturing = False  # set while ``pipeline_of_file`` runs a file


class _Captured(BaseException):
    """Ends a file at its first submit, carrying the pipeline it submits."""

    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__("captured")
        self.pipeline = pipeline


def intercept(pipeline: Pipeline) -> None:
    """Called first by every submit: while a file is being drawn, stop it here.

    Raises:
        _Captured: a file is being run by ``pipeline_of_file``.
    """
    if _capturing:
        raise _Captured(pipeline)


def pipeline_of_file(path: Path, argv: list[str] | None = None) -> Pipeline:
    """The pipeline ``path`` submits first, or else its module-level ``pipeline``.

    Raises:
        PipelineError: the file submits no pipeline and defines no ``pipeline``.
        SystemExit: the file exited with a non-zero status before submitting.
    """
    import runpy  # here: only `dataferry graph FILE` runs a file; a submit needs none

    from dataferry.execution.pipeline import Pipeline

    global _capturing
    script = path.resolve()
    old_argv, old_path = sys.argv, list(sys.path)
    sys.argv = [str(script), *(argv or [])]
    sys.path.insert(0, str(script.parent))
    _capturing = True
    try:
        namespace = runpy.run_path(str(script), run_name="__main__")
    except _Captured as captured:
        return captured.pipeline
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise
        namespace = {}
    finally:
        _capturing = False
        sys.argv, sys.path[:] = old_argv, old_path
    found = namespace.get("pipeline")
    if not isinstance(found, Pipeline):
        raise PipelineError(
            f"{script.name} submits no pipeline and defines no module-level `pipeline`; "
            "end it with pipeline = Pipeline(...) or call pipeline.submit(...)"
        )
    return found
