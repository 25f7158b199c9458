"""One worker process: imports the entry script, calls ``init()`` once, then
``run(mini_batch)`` for each mini-batch the pool sends, and answers with its rows.

Messages (over a ``multiprocessing`` pipe): the worker sends ``("ready",)`` or
``("init_failed", text)`` once, then ``("done", index, rows)`` or ``("failed",
index, text)`` per mini-batch; it gets ``(index, payload, partition, dataset id)``
or None (stop).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.execution.parallel.entry_script import (
    AGENT_VARIABLE,
    LEVEL_VARIABLE,
    LOG_DIR_VARIABLE,
    OUTPUT_DIR_VARIABLE,
)

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from types import ModuleType


@dataclass(frozen=True)
class WorkerSpec:
    """What every worker is started with (picklable: workers are spawned)."""

    entry_script: str
    source_dir: str
    argv: tuple[str, ...]
    log_dir: str
    output_dir: str
    logging_level: str


@dataclass(frozen=True)
class MiniBatchContext:
    """``run``'s second argument with ``partition_keys``: the key values, and
    ``dataset``, the input TabularDataset filtered to those values (read lazily:
    ``context.dataset.to_pandas_dataframe()`` reads only when called)."""

    partition_key_value: dict[str, Any]
    dataset: Any = None


def serve(spec: WorkerSpec, agent: str, conn: Connection) -> None:
    """The worker's life: set up, ``init()``, then mini-batches until told to stop."""
    os.environ.update(
        {
            AGENT_VARIABLE: agent,
            LOG_DIR_VARIABLE: spec.log_dir,
            OUTPUT_DIR_VARIABLE: spec.output_dir,
            LEVEL_VARIABLE: spec.logging_level,
        }
    )
    os.chdir(spec.source_dir)
    sys.path.insert(0, spec.source_dir)
    sys.argv = [spec.entry_script, *spec.argv]  # user flags for parse_known_args
    try:
        module = _load(Path(spec.source_dir, spec.entry_script))
        init = getattr(module, "init", None)
        if init is not None:
            init()
        run = module.run
    except BaseException:  # any failure of the user's code is reported, not raised
        conn.send(("init_failed", traceback.format_exc()))
        return
    conn.send(("ready",))
    while (task := conn.recv()) is not None:
        index, payload, partition, dataset_id = task
        try:
            result = _call(run, payload, partition, dataset_id)
            conn.send(("done", index, rows_of(result)))
        except BaseException:  # a failed try: the pool decides whether to retry
            conn.send(("failed", index, traceback.format_exc()))


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import the entry script {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def _call(
    run: Any, payload: Any, partition: dict[str, Any] | None, dataset_id: str | None
) -> Any:
    """``run(mini_batch)``; a piece is read, and a table made a DataFrame, first."""
    if _is_piece(payload):
        payload = _read_piece(str(dataset_id), payload)
    batch = payload if isinstance(payload, list) else payload.to_pandas()
    if partition is None:
        return run(batch)
    return run(
        batch, MiniBatchContext(partition, _partition_dataset(dataset_id, partition))
    )


def _is_piece(payload: Any) -> bool:
    """True for a ``FilePiece``. Its module (which loads pyarrow, about a second per
    worker on a loaded machine) is imported only once a piece arrives: unpickling one
    imports it, so a worker of file mini-batches never pays for it."""
    module = sys.modules.get(_PIECES_MODULE)
    return module is not None and isinstance(payload, module.FilePiece)


_PIECES_MODULE = "dataferry.data.file_ranges"
_READERS: dict[str, tuple[Any, Any]] = {}  # dataset id: (dataset, reader), per worker


def _read_piece(dataset_id: str, piece: Any) -> Any:
    """The piece's records, read from the input by this worker (the reader, with its
    inferred schema, is kept for the worker's next pieces)."""
    if dataset_id not in _READERS:
        from dataferry.data.abstract_dataset import AbstractDataset
        from dataferry.execution.run_context import step_workspace

        workspace = step_workspace()
        if workspace is None:
            raise RuntimeError("a mini-batch worker runs inside a step process only")
        dataset: Any = AbstractDataset.get_by_id(workspace, dataset_id)
        _READERS[dataset_id] = (dataset, dataset._reader())
    from dataferry.data.file_ranges import read_piece

    dataset, reader = _READERS[dataset_id]
    return read_piece(dataset, piece, reader)


def _partition_dataset(dataset_id: str | None, partition: dict[str, Any]) -> Any:
    """The input dataset filtered to ``partition``'s key values, or None."""
    if dataset_id is None:
        return None
    from dataferry.data.abstract_dataset import AbstractDataset
    from dataferry.execution.run_context import step_workspace

    workspace = step_workspace()
    if workspace is None:
        return None
    dataset = AbstractDataset.get_by_id(workspace, dataset_id)
    return dataset._derive({"op": "where_equal", "values": dict(partition)})


def rows_of(result: Any) -> list[str]:
    """``run``'s return value as output lines: list/tuple items with ``str()``,
    DataFrame rows space-separated without header or index.

    Raises:
        TypeError: ``run`` returned something else (None included).
    """
    if isinstance(result, list | tuple):
        return [str(item) for item in result]
    to_csv = getattr(result, "to_csv", None)
    if to_csv is not None:
        text: str = to_csv(sep=" ", header=False, index=False)
        return text.splitlines()
    raise TypeError(
        f"run() returned {type(result).__name__}; return a list, a tuple or a "
        "DataFrame with one element per processed item"
    )
