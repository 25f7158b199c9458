"""``dataferry run FILE.py``: run a file that submits a pipeline, or one that defines one.

The file runs as ``__main__``. Every run it submits is then watched to its end; if it
submitted none but defines a module-level ``pipeline``, that pipeline is submitted.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.errors import PipelineError
from dataferry.execution import pipeline as pipeline_module
from dataferry.execution.pipeline import Pipeline

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from dataferry.execution.pipeline_run import PipelineRun


def run_file(
    path: str | Path,
    *,
    experiment: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    argv: list[str] | None = None,
    on_submit: Callable[[PipelineRun], None] | None = None,
) -> list[PipelineRun]:
    """Execute ``path``; return the pipeline runs it submitted (or that were submitted for it).

    A file that ends with ``sys.exit(0)`` (or ``sys.exit()``) counts as having run to
    its end; any other exit status is raised again as ``SystemExit``.

    Raises:
        PipelineError: the file neither submitted a run nor defines ``pipeline``.
        SystemExit: the file exited with a non-zero status.
    """
    script = Path(path).resolve()
    if not script.is_file():
        raise PipelineError(f"no such file: {script}")
    before = len(pipeline_module.SUBMITTED)
    old_argv, old_path = sys.argv, list(sys.path)
    sys.argv = [str(script), *(argv or [])]
    sys.path.insert(0, str(script.parent))
    try:
        namespace = runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:  # ``sys.exit(main())`` after a successful submit
        if exc.code not in (None, 0):
            raise
        namespace = {}
    finally:
        sys.argv, sys.path[:] = old_argv, old_path
    runs = list(pipeline_module.SUBMITTED[before:])
    if not runs:
        pipeline = namespace.get("pipeline")
        if not isinstance(pipeline, Pipeline):
            raise PipelineError(
                f"{script.name} submitted no run and defines no module-level `pipeline`; "
                "end it with pipeline = Pipeline(...) or call pipeline.submit(...)"
            )
        runs = [
            pipeline.submit(
                experiment or _experiment_name(script), pipeline_parameters=parameters
            )
        ]
    for run in runs:
        if on_submit is not None:
            on_submit(run)
    return runs


def _experiment_name(script: Path) -> str:
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in script.stem).strip(
        "-_"
    )
    return name or "default"
