"""``ParallelRunStep``: an entry script run over mini-batches of its inputs by many workers.

The step is a ``PythonScriptStep`` whose arguments are, as in the SDK, the reserved
flags of its ``ParallelRunConfig``, then the user's arguments, then one
``--input_fds_<i>`` (files, mounted) or ``--input_ds_<i>`` (rows, direct) per input.
The plan runs it as the ``parallel`` step kind. Pure: nothing is read or written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.data.consumption import DatasetConsumptionConfig
from dataferry.data.kinds import is_tabular_dataset
from dataferry.errors import ParallelRunConfigError
from dataferry.pipeline.checks import as_list, type_error
from dataferry.pipeline.outputs import (
    OutputFileDatasetConfig,
    OutputTabularDatasetConfig,
    PipelineData,
    PipelineOutputFileDataset,
    PipelineOutputTabularDataset,
)
from dataferry.pipeline.parallel_config import ParallelRunConfig
from dataferry.pipeline.runconfig import RunConfiguration
from dataferry.pipeline.steps import PythonScriptStep

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dataferry.pipeline.parameters import PipelineParameter

RESERVED_ARGUMENTS = (
    "mini_batch_size",
    "error_threshold",
    "allowed_failed_count",
    "allowed_failed_percent",
    "output",
    "output_action",
    "logging_level",
    "process_count_per_node",
    "run_invocation_timeout",
    "run_max_try",
    "append_row_file_name",
    "partition_keys",
)
# the flag naming each batched input, by kind, as the SDK's generated command has it
_INPUT_FLAGS = {"file": "--input_fds_", "tabular": "--input_ds_"}


def _input_kind(obj: Any) -> str:
    """``file`` or ``tabular``: what kind of data one input holds."""
    inner = obj.dataset if isinstance(obj, DatasetConsumptionConfig) else obj
    tabular = is_tabular_dataset(inner) or isinstance(
        inner, OutputTabularDatasetConfig | PipelineOutputTabularDataset
    )
    return "tabular" if tabular else "file"


def _as_input(obj: Any, where: str) -> Any:
    """One input as the step reads it: files mounted, rows direct.

    Raises:
        ParallelRunConfigError: a tabular input not in direct mode.
        PipelineTypeError: not a dataset input.
    """
    if isinstance(obj, OutputFileDatasetConfig | OutputTabularDatasetConfig):
        obj = obj.as_input(obj.name)
    if isinstance(obj, PipelineData):
        obj = obj.as_dataset()
    if not isinstance(obj, DatasetConsumptionConfig | PipelineOutputFileDataset):
        raise type_error(
            where,
            "a dataset input (dataset.as_named_input(...)), an OutputFileDatasetConfig, "
            "a PipelineData or its as_dataset()",
            obj,
        )
    if _input_kind(obj) == "tabular":
        if obj.mode != "direct":
            raise ParallelRunConfigError(
                f"{where}: Please ensure input dataset consumption mode is direct "
                f"(it is {obj.mode!r}); rows are handed to run() as DataFrames"
            )
        return obj
    return obj if obj.mode == "mount" else obj.as_mount()


def _check_arguments(arguments: list[Any], step: str) -> None:
    """User arguments: keyword style, and no name the step reserves."""
    if arguments and not (
        isinstance(arguments[0], str) and arguments[0].startswith("-")
    ):
        raise ParallelRunConfigError(
            f"ParallelRunStep '{step}': Found invalid argument '{arguments[0]}'. As your "
            "arguments will be merged with reserved argument, you can only use keyword "
            "argument (e.g. ['--model', 'm.pkl'])."
        )
    for item in arguments:
        if isinstance(item, str) and item.startswith("-"):
            name = item.lstrip("-").split("=", 1)[0]
            if name in RESERVED_ARGUMENTS:
                raise ParallelRunConfigError(
                    f"ParallelRunStep '{step}': '{name}' is a reserved argument in "
                    "ParallelRunStep; set it in ParallelRunConfig, or rename your "
                    "argument"
                )


def _reserved(config: ParallelRunConfig, output: Any) -> list[Any]:
    """The reserved flags, in the SDK's order; a PipelineParameter stays one."""
    args: list[Any] = [
        "--scoring_module_name",
        config.entry_script,
        "--error_threshold",
        config.error_threshold,
        "--output_action",
        config.output_action,
        "--logging_level",
        config.logging_level,
        "--run_invocation_timeout",
        config.run_invocation_timeout,
        "--run_max_try",
        config.run_max_try,
        "--node_count",
        config.node_count,
    ]
    optional: list[tuple[str, Any]] = [
        ("--mini_batch_size", config.mini_batch_size),
        ("--allowed_failed_count", config.allowed_failed_count),
        ("--allowed_failed_percent", config.allowed_failed_percent),
        ("--append_row_file_name", config.append_row_file_name),
        ("--output", output),
        ("--process_count_per_node", config.process_count_per_node),
        ("--partition_keys", _keys_argument(config.partition_keys)),
    ]
    for flag, value in optional:
        if value is not None:
            args += [flag, value]
    return args


def _keys_argument(keys: list[str] | PipelineParameter | None) -> Any:
    """``partition_keys`` as the driver reads it: a JSON list (a parameter's default
    is one already)."""
    return json.dumps(keys) if isinstance(keys, list) else keys


class ParallelRunStep(PythonScriptStep):
    """Runs ``parallel_run_config.entry_script`` over mini-batches of ``inputs``.

    Args as in the SDK (reference A.15): ``inputs`` is a non-empty list of inputs of
    one kind (files: mounted; rows: direct); ``output`` (a PipelineData or an
    OutputFileDatasetConfig) receives ``parallel_run_step.txt`` with ``append_row``;
    ``side_inputs`` are bound whole (file datasets mounted) for every worker and not
    split; one that is also in ``arguments`` is replaced there by its mounted form,
    so the entry script reads its path with ``argparse.parse_known_args()``;
    ``arguments`` are keyword style (``['--model', m]``).

    Raises:
        PipelineTypeError: an argument of the wrong type (a ``TypeError``).
        ParallelRunConfigError: no inputs, inputs of two kinds, a tabular input not in
            direct mode, ``output=None`` with ``append_row``, a positional or
            reserved argument, ``partition_keys`` over file inputs.
    """

    def __init__(
        self,
        name: str,
        parallel_run_config: ParallelRunConfig,
        inputs: Sequence[Any],
        output: Any = None,
        side_inputs: Sequence[Any] | None = None,
        arguments: Sequence[Any] | None = None,
        allow_reuse: bool = True,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise type_error("ParallelRunStep: name", "a non-empty str", name)
        if not isinstance(parallel_run_config, ParallelRunConfig):
            raise type_error(
                f"ParallelRunStep '{name}': parallel_run_config",
                "a ParallelRunConfig",
                parallel_run_config,
            )
        config = parallel_run_config
        where = f"ParallelRunStep '{name}'"
        given = as_list(inputs, f"{where}: inputs")
        if not given:
            raise ParallelRunConfigError(
                f"{where}: inputs is empty; give at least one dataset input"
            )
        batched = [
            _as_input(obj, f"{where}: inputs[{i}]") for i, obj in enumerate(given)
        ]
        kinds = {_input_kind(obj) for obj in batched}
        if len(kinds) > 1:
            raise ParallelRunConfigError(
                f"{where}: All inputs of step must be same type (here both file and "
                "tabular inputs); split them into two steps"
            )
        self.input_kind = kinds.pop()
        if self.input_kind == "file" and config.partition_keys is not None:
            raise ParallelRunConfigError(
                f"{where}: partition_keys needs tabular inputs (rows with the key "
                "columns); file inputs are split by mini_batch_size"
            )
        _check_output(output, config, where)
        user_args = as_list(arguments, f"{where}: arguments")
        _check_arguments(user_args, name)
        given_side = as_list(side_inputs, f"{where}: side_inputs")
        side = [
            _side_input(obj, f"{where}: side_inputs[{i}]")
            for i, obj in enumerate(given_side)
        ]
        # as the SDK: a side input named in the arguments is passed as its mounted
        # form there too, so the script gets the mounted path, not a dataset id
        swapped = {id(a): b for a, b in zip(given_side, side, strict=True)}
        user_args = [swapped.get(id(arg), arg) for arg in user_args]
        flag = _INPUT_FLAGS[self.input_kind]
        input_args: list[Any] = []
        for i, obj in enumerate(batched):
            input_args += [f"{flag}{i}", obj]
        runconfig = RunConfiguration()
        runconfig.environment = config.environment
        runconfig.environment_variables = dict(config.environment_variables)
        self.parallel_run_config = config
        self.output = output
        self.side_inputs = side
        super().__init__(
            config.entry_script,
            name=name,
            arguments=[*_reserved(config, output), *user_args, *input_args],
            compute_target=config.compute_target,
            runconfig=runconfig,
            inputs=[*batched, *side],
            outputs=[output] if output is not None else None,
            source_directory=config.source_directory,
            allow_reuse=allow_reuse,
        )

    def check_files(self, default_source_directory: str | None) -> None:
        """The source folder and the entry script in it must exist.

        Raises:
            ParallelRunConfigError: the SDK's "... doesn't exist." messages.
        """
        folder = self.resolve_source_directory(default_source_directory)
        if not folder.is_dir():
            raise ParallelRunConfigError(
                f"ParallelRunStep '{self.name}': The value '{folder}' specified in "
                "source_directory doesn't exist."
            )
        if not (folder / Path(self.script_name)).is_file():
            raise ParallelRunConfigError(
                f"ParallelRunStep '{self.name}': The value '{self.script_name}' "
                f"specified in entry_script doesn't exist (looked in {folder})."
            )


def _check_output(output: Any, config: ParallelRunConfig, where: str) -> None:
    if output is None:
        if config.output_action == "append_row":
            raise ParallelRunConfigError(
                f"{where}: Please specify output parameter. append_row writes its "
                "rows there; pass a PipelineData or OutputFileDatasetConfig, or use "
                "output_action='summary_only'"
            )
        return
    if not isinstance(output, PipelineData | OutputFileDatasetConfig):
        raise type_error(
            f"{where}: output", "a PipelineData or an OutputFileDatasetConfig", output
        )


def _side_input(obj: Any, where: str) -> Any:
    """A side input: a file dataset is mounted; other inputs are bound as given."""
    if isinstance(obj, DatasetConsumptionConfig | PipelineOutputFileDataset):
        if _input_kind(obj) == "file" and obj.mode != "mount":
            return obj.as_mount()
        return obj
    if isinstance(obj, OutputFileDatasetConfig | OutputTabularDatasetConfig):
        return _as_input(obj, where)
    return obj
