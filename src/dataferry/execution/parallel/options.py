"""The reserved flags of a ParallelRunStep's command line, read back into options."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from dataferry.pipeline.parallel_config import parse_mini_batch_size

DEFAULT_FILES_PER_BATCH = 10
DEFAULT_BATCH_BYTES = 1024 * 1024
DEFAULT_APPEND_ROW_FILE = "parallel_run_step.txt"


@dataclass(frozen=True)
class ParallelOptions:
    """What the job runs and how; ``inputs`` are ``(kind, value)`` in flag order
    (``file``: a mounted folder; ``tabular``: a dataset id)."""

    entry_script: str
    error_threshold: int
    output_action: str
    logging_level: str
    run_invocation_timeout: int
    run_max_try: int
    node_count: int
    mini_batch_size: int | None
    allowed_failed_count: int | None
    allowed_failed_percent: float | None
    append_row_file_name: str
    output: str | None
    process_count_per_node: int | None
    partition_keys: list[str] | None
    inputs: tuple[tuple[str, str], ...]

    @property
    def worker_count(self) -> int:
        """``process_count_per_node * node_count`` (one per node when not given)."""
        return (self.process_count_per_node or 1) * self.node_count

    def identity(self) -> dict[str, object]:
        """The options that change what a mini-batch's result is (not paths, which
        differ between attempts of one step): the progress log's key."""
        return {
            "entry_script": self.entry_script,
            "output_action": self.output_action,
            "mini_batch_size": self.mini_batch_size,
            "partition_keys": self.partition_keys,
        }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dataferry.execution.parallel")
    add = parser.add_argument
    add("--scoring_module_name", required=True)
    add("--error_threshold", type=int, required=True)
    add("--output_action", required=True)
    add("--logging_level", default="INFO")
    add("--run_invocation_timeout", type=int, default=60)
    add("--run_max_try", type=int, default=3)
    add("--node_count", type=int, default=1)
    add("--mini_batch_size", type=parse_mini_batch_size)
    add("--allowed_failed_count", type=int)
    add("--allowed_failed_percent", type=float)
    add("--append_row_file_name", default=DEFAULT_APPEND_ROW_FILE)
    add("--output")
    add("--process_count_per_node", type=int)
    add("--partition_keys")
    return parser


def parse_options(argv: list[str]) -> tuple[ParallelOptions, list[str]]:
    """The options, and the user's arguments (everything else, for the entry script).

    The ``--input_fds_<i>``/``--input_ds_<i>`` flags are taken out in order.
    """
    inputs: list[tuple[str, str]] = []
    rest: list[str] = []
    items = iter(argv)
    for item in items:
        if item.startswith(("--input_fds_", "--input_ds_")):
            kind = "file" if item.startswith("--input_fds_") else "tabular"
            inputs.append((kind, next(items)))
        else:
            rest.append(item)
    known, user = _parser().parse_known_args(rest)
    keys = json.loads(known.partition_keys) if known.partition_keys else None
    return (
        ParallelOptions(
            entry_script=known.scoring_module_name,
            error_threshold=known.error_threshold,
            output_action=known.output_action,
            logging_level=known.logging_level,
            run_invocation_timeout=known.run_invocation_timeout,
            run_max_try=known.run_max_try,
            node_count=known.node_count,
            mini_batch_size=known.mini_batch_size,
            allowed_failed_count=known.allowed_failed_count,
            allowed_failed_percent=known.allowed_failed_percent,
            append_row_file_name=known.append_row_file_name,
            output=known.output,
            process_count_per_node=known.process_count_per_node,
            partition_keys=keys,
            inputs=tuple(inputs),
        ),
        user,
    )
