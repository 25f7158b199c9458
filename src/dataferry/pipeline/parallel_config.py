"""``ParallelRunConfig``: how a ParallelRunStep splits its data and runs its workers.

Every value is checked here, at construction, with the SDK's rules (reference A.15);
nothing is read or written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry._lazy import LazyPattern
from dataferry.errors import ParallelRunConfigError
from dataferry.pipeline.checks import as_dict, as_str_list, type_error
from dataferry.pipeline.environment import Environment
from dataferry.pipeline.parameters import PipelineParameter

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

DEFAULT_APPEND_ROW_FILE = "parallel_run_step.txt"
OUTPUT_ACTIONS = ("append_row", "summary_only")
LOGGING_LEVELS = ("WARNING", "INFO", "DEBUG")
_SIZE = LazyPattern(r"^(\d+)([kKmMgG][bB])?$")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_BAD_FILE_CHARS = set('~"#%&*:<>?/\\{}|')
_WHERE = "ParallelRunConfig"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _threshold(value: Any, label: str) -> int:
    """An int >= -1 (-1: every failure is tolerated)."""
    if not _is_int(value):
        raise type_error(f"{_WHERE}: {label}", "an int (-1 tolerates all)", value)
    if value < -1:
        raise ParallelRunConfigError(
            f"{_WHERE}: {label} must be -1 or more, not {value}; -1 tolerates every "
            "failure, 0 none"
        )
    return int(value)


def _positive(value: Any, label: str, *, param: bool = False) -> Any:
    """An int > 0, or (``param``) a PipelineParameter whose default is one."""
    if param and isinstance(value, PipelineParameter):
        _positive(value.default_value, f"{label} (the parameter's default)")
        return value
    if not _is_int(value):
        raise type_error(f"{_WHERE}: {label}", "an int", value)
    if value <= 0:
        raise ParallelRunConfigError(
            f"{_WHERE}: {label} must be greater than 0, not {value}"
        )
    return value


def parse_mini_batch_size(value: Any) -> int | None:
    """``mini_batch_size`` as an int: ``'10'`` is 10, ``'1MB'`` is 1024**2 (KB/MB/GB
    are powers of 1024); None stays None (the step's default is used).

    Raises:
        PipelineTypeError: neither an int nor a str.
        ParallelRunConfigError: a str not of the form ``<digits>[KB|MB|GB]``, or 0.
    """
    if value is None:
        return None
    if _is_int(value):
        size = int(value)
    elif isinstance(value, str):
        match = _SIZE.match(value.strip())
        if match is None:
            raise ParallelRunConfigError(
                f"{_WHERE}: mini_batch_size {value!r} is not a size; give an int or "
                "digits with an optional KB, MB or GB (e.g. '10' or '1MB')"
            )
        unit = (match.group(2) or "")[:1].lower()
        size = int(match.group(1)) * _UNITS[unit]
    else:
        raise type_error(f"{_WHERE}: mini_batch_size", "an int or a str", value)
    if size <= 0:
        raise ParallelRunConfigError(
            f"{_WHERE}: mini_batch_size must be greater than 0, not {value!r}"
        )
    return size


def _batch_size(value: Any) -> int | PipelineParameter | None:
    if isinstance(value, PipelineParameter):
        parse_mini_batch_size(value.default_value)
        return value
    return parse_mini_batch_size(value)


def _output_action(value: Any) -> str:
    if not isinstance(value, str):
        raise type_error(f"{_WHERE}: output_action", "a str", value)
    action = value.strip().lower()
    if action not in OUTPUT_ACTIONS:
        raise ParallelRunConfigError(
            f"{_WHERE}: output_action must be 'append_row' or 'summary_only' "
            f"(any case), not {value!r}"
        )
    return action


def _append_row_file(value: Any, action: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise type_error(f"{_WHERE}: append_row_file_name", "a str", value)
    bad = sorted(_BAD_FILE_CHARS & set(value))
    if action == "append_row" and (bad or not value.strip()):
        raise ParallelRunConfigError(
            f"{_WHERE}: append_row_file_name {value!r} must be a non-empty file name "
            f"without any of {''.join(sorted(_BAD_FILE_CHARS))} (it has {bad}); "
            f"e.g. '{DEFAULT_APPEND_ROW_FILE}'"
        )
    return value


def _percent(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise type_error(f"{_WHERE}: allowed_failed_percent", "a number", value)
    if not 0 <= value <= 100:
        raise ParallelRunConfigError(
            f"{_WHERE}: allowed_failed_percent must be between 0 and 100, not {value}"
        )
    return float(value)


def _partition_keys(value: Any) -> list[str] | PipelineParameter | None:
    if value is None or isinstance(value, PipelineParameter):
        return value
    keys = as_str_list(value, f"{_WHERE}: partition_keys")
    if not keys:
        raise ParallelRunConfigError(
            f"{_WHERE}: partition_keys is an empty list; give the key column names "
            "or leave it out"
        )
    return keys


def _logging_level(value: Any) -> str:
    if value is None:
        return "INFO"
    if not isinstance(value, str) or value.upper() not in LOGGING_LEVELS:
        raise ParallelRunConfigError(
            f"{_WHERE}: logging_level must be one of {', '.join(LOGGING_LEVELS)}, "
            f"not {value!r}"
        )
    return value.upper()


class ParallelRunConfig:
    """How a ParallelRunStep runs: entry script, mini-batch size, workers, thresholds.

    Args as in the SDK (reference A.15). ``error_threshold`` counts failed items
    (files or rows), ``allowed_failed_count`` failed mini-batches; -1 tolerates all.
    Workers are ``process_count_per_node * node_count`` processes.

    Raises:
        PipelineTypeError: an argument of the wrong type (a ``TypeError``).
        ParallelRunConfigError: a value out of range, an unknown ``output_action``,
            a bad ``append_row_file_name``, ``mini_batch_size`` with
            ``partition_keys`` (a ``ValueError``).
    """

    def __init__(
        self,
        environment: Environment,
        entry_script: str,
        error_threshold: int,
        output_action: str,
        compute_target: Any,
        node_count: int | PipelineParameter,
        process_count_per_node: int | PipelineParameter | None = None,
        mini_batch_size: int | str | PipelineParameter | None = None,
        source_directory: str | None = None,
        description: str | None = None,
        logging_level: str | None = "INFO",
        run_invocation_timeout: int = 60,
        run_max_try: int = 3,
        append_row_file_name: str | None = None,
        allowed_failed_count: int | None = None,
        allowed_failed_percent: float | None = None,
        partition_keys: Sequence[str] | PipelineParameter | None = None,
        environment_variables: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(environment, Environment):
            raise type_error(f"{_WHERE}: environment", "an Environment", environment)
        if not isinstance(entry_script, str) or not entry_script.strip():
            raise ParallelRunConfigError(
                f"{_WHERE}: entry_script must name a Python file, not {entry_script!r}"
            )
        self.environment = environment
        self.entry_script = entry_script.strip()
        self.source_directory = source_directory.strip() if source_directory else None
        self.error_threshold = _threshold(error_threshold, "error_threshold")
        self.output_action = _output_action(output_action)
        self.compute_target = compute_target
        self.node_count = _positive(node_count, "node_count", param=True)
        _check_max_nodes(compute_target, node_count)
        self.process_count_per_node = (
            None
            if process_count_per_node is None
            else _positive(process_count_per_node, "process_count_per_node", param=True)
        )
        self.mini_batch_size = _batch_size(mini_batch_size)
        self.partition_keys = _partition_keys(partition_keys)
        if self.mini_batch_size is not None and self.partition_keys is not None:
            raise ParallelRunConfigError(
                f"{_WHERE}: mini_batch_size and partition_keys cannot both be given: "
                "with partition_keys each distinct key value is one mini-batch"
            )
        self.description = description
        self.logging_level = _logging_level(logging_level)
        self.run_invocation_timeout = _positive(
            run_invocation_timeout, "run_invocation_timeout"
        )
        self.run_max_try = _positive(run_max_try, "run_max_try")
        self.append_row_file_name = _append_row_file(
            append_row_file_name, self.output_action
        )
        self.allowed_failed_count = (
            None
            if allowed_failed_count is None
            else _threshold(allowed_failed_count, "allowed_failed_count")
        )
        self.allowed_failed_percent = _percent(allowed_failed_percent)
        self.environment_variables = {
            k: _env_value(k, v)
            for k, v in as_dict(
                environment_variables, f"{_WHERE}: environment_variables"
            ).items()
        }

    def __repr__(self) -> str:
        return f"ParallelRunConfig(entry_script={self.entry_script!r})"


def _env_value(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise type_error(f"{_WHERE}: environment_variables[{key!r}]", "a str", value)
    return value


def _check_max_nodes(compute_target: Any, node_count: Any) -> None:
    """For a compute object with ``max_nodes``: ``1 <= node_count <= max_nodes``."""
    max_nodes = getattr(compute_target, "max_nodes", None)
    if not _is_int(max_nodes) or not _is_int(node_count):
        return  # a name or a parameter: checked against the target when it runs
    if node_count > max_nodes:
        raise ParallelRunConfigError(
            f"{_WHERE}: node_count {node_count} is more than compute target "
            f"'{getattr(compute_target, 'name', compute_target)}' has "
            f"(max_nodes={max_nodes}); lower node_count or raise max_nodes"
        )
