"""Where a step reads and writes, named for messages: a failure there says where it was.

A storage backend may raise anything (a cloud SDK's authentication error is rarely an
``OSError``). While the driver prepares a step's inputs or commits its outputs, such an
error becomes a ``StorageError`` naming the datastore and path, so that step fails with
a message that says where, and the run goes on to its end.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dataferry.errors import DataferryError, StorageError
from dataferry.execution.commit import resolve_template
from dataferry.execution.plan_inputs import DatasetInput, UpstreamOutputInput

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from dataferry.catalog.run_store import OutputRecord
    from dataferry.execution.plan_inputs import InputBinding, OutputKey
    from dataferry.execution.plan_model import OutputTarget


@contextmanager
def failures_at(action: str, places: Sequence[str]) -> Iterator[None]:
    """Re-raise any error but a ``DataferryError`` as a ``StorageError`` naming ``places``.

    A ``DataferryError`` already says what went wrong and where, so it passes unchanged.

    Raises:
        StorageError: ``"{action} ({places}): {type}: {message}"`` and what to do.
    """
    try:
        yield
    except DataferryError:
        raise
    except Exception as exc:
        where = f" ({'; '.join(places)})" if places else ""
        raise StorageError(
            f"{action}{where}: {type(exc).__name__}: {exc}. Check that the datastore's "
            "credentials are valid and the path can be reached, then run the step again."
        ) from exc


def input_places(
    spec: InputBinding,
    parameters: Mapping[str, Any],
    committed: Mapping[OutputKey, OutputRecord],
) -> list[str]:
    """Where one input of the plan reads from: ``datastore 'x', path 'y'`` or a URL."""
    if isinstance(spec, UpstreamOutputInput):
        record = committed.get(spec.resolve(parameters))
        if record is None:
            return [f"output '{spec.output}' of step '{spec.producer}'"]
        return [_place(record.datastore, record.path)]
    if isinstance(spec, DatasetInput):
        data = spec.resolve(parameters)
        return [_source(s) for s in data.definition.get("sources", [])]
    ref = spec.resolve(parameters)
    return [_place(ref.datastore, ref.path)]


def output_place(spec: OutputTarget, step_run_id: str) -> str:
    """Where one output of the plan is committed: ``datastore 'x', path 'y'``."""
    path = resolve_template(
        spec.path_template, run_id=step_run_id, output_name=spec.name
    )
    return _place(spec.datastore, path)


def _place(datastore: str, path: str) -> str:
    return f"datastore '{datastore}', path '{path}'"


def _source(source: Mapping[str, str]) -> str:
    if "datastore" in source:
        return _place(source["datastore"], source["path"])
    if "url" in source:
        return f"URL '{source['url']}'"
    return f"local path '{source['local']}'"
