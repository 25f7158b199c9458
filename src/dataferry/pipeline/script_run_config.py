"""``ScriptRunConfig``: one script (or command) to run as its own run, as in the SDK.

``Experiment.submit(ScriptRunConfig(...))`` runs it as a one-step run (see
``dataferry.execution.script_run``). Only the definition lives here: building one
checks types and values and touches no file.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

from dataferry.errors import RunConfigurationException
from dataferry.pipeline.checks import as_list, as_path_text, check_type, type_error
from dataferry.pipeline.environment import Environment
from dataferry.pipeline.runconfig import RunConfiguration

__all__ = [
    "DockerConfiguration",
    "MpiConfiguration",
    "PyTorchConfiguration",
    "ScriptRunConfig",
    "TensorflowConfiguration",
]

MAX_DURATION_SECONDS_DEFAULT = 2592000  # 30 days, the SDK's default


class DockerConfiguration:
    """Docker settings: accepted and recorded; a local run does not use Docker."""

    def __init__(
        self,
        use_docker: bool = False,
        shared_volumes: bool = True,
        arguments: list[str] | None = None,
        shm_size: str = "2g",
    ) -> None:
        self.use_docker = use_docker
        self.shared_volumes = shared_volumes
        self.arguments = as_list(arguments, "DockerConfiguration(): arguments")
        self.shm_size = shm_size


class MpiConfiguration:
    """An MPI job's size: ``process_count_per_node`` processes on ``node_count`` nodes."""

    def __init__(self, process_count_per_node: int = 1, node_count: int = 1) -> None:
        self.process_count_per_node = _count(process_count_per_node, "MpiConfiguration")
        self.node_count = _count(node_count, "MpiConfiguration")


class TensorflowConfiguration:
    """A TensorFlow parameter-server job's size."""

    def __init__(self, worker_count: int = 1, parameter_server_count: int = 1) -> None:
        self.worker_count = _count(worker_count, "TensorflowConfiguration")
        self.parameter_server_count = _count(
            parameter_server_count, "TensorflowConfiguration"
        )


class PyTorchConfiguration:
    """A PyTorch distributed job: its backend (nccl or gloo) and size.

    Raises:
        RunConfigurationException: the backend is neither nccl nor gloo.
    """

    def __init__(
        self,
        communication_backend: str = "Nccl",
        process_count: int | None = None,
        node_count: int = 1,
    ) -> None:
        check_type(communication_backend, str, "PyTorchConfiguration()", "a str")
        if communication_backend.lower() not in ("nccl", "gloo"):
            raise RunConfigurationException(
                f"PyTorchConfiguration(): communication_backend "
                f"{communication_backend!r} is not supported; use 'nccl' or 'gloo'"
            )
        self.communication_backend = communication_backend
        self.process_count = (
            None
            if process_count is None
            else _count(process_count, "PyTorchConfiguration")
        )
        self.node_count = _count(node_count, "PyTorchConfiguration")


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise type_error(f"{where}(): a count", "an int", value)
    if value < 1:
        raise RunConfigurationException(f"{where}(): counts must be >= 1, not {value}")
    return value


def _distributed(config: Any, run_config: RunConfiguration) -> None:
    """Set the node count and framework the SDK sets for ``distributed_job_config``.

    Raises:
        RunConfigurationException: ``config`` is none of the three configurations.
    """
    if isinstance(config, MpiConfiguration):
        run_config.node_count = config.node_count
        run_config.framework, run_config.communicator = "Python", "IntelMpi"
    elif isinstance(config, TensorflowConfiguration):
        run_config.node_count = config.worker_count
        run_config.framework, run_config.communicator = "TensorFlow", "ParameterServer"
    elif isinstance(config, PyTorchConfiguration):
        run_config.node_count = config.node_count
        run_config.framework = "PyTorch"
        run_config.communicator = config.communication_backend.lower()
    else:
        raise RunConfigurationException(
            "ScriptRunConfig(): distributed_job_config must be an MpiConfiguration, "
            f"TensorflowConfiguration or PyTorchConfiguration, not {type(config).__name__}"
        )


class ScriptRunConfig:
    """A script (or a command) with its folder, arguments and run configuration.

    Args:
        source_directory: the folder snapshotted and run in (``.amlignore`` applies).
        script: the script's path inside ``source_directory``.
        arguments: the script's arguments; datasets and ``OutputFileDatasetConfig``
            objects in it are bound as in a step (a str is passed as it is).
        run_config: a RunConfiguration; without one, a new one gets
            ``compute_target``, ``environment`` and ``max_run_duration_seconds``.
        command: a command line (list or str) run instead of ``script``.
        max_run_duration_seconds: the run fails (Canceled) once it has run this long.

    Raises:
        PipelineTypeError: an argument is of the wrong type (a ``TypeError``).
        RunConfigurationException: neither ``script`` nor ``command`` given, both
            given, a non-positive duration, or a ``distributed_job_config`` or
            ``docker_runtime_config`` of the wrong kind.
    """

    def __init__(
        self,
        source_directory: str,
        script: str | None = None,
        arguments: list[Any] | str | None = None,
        run_config: RunConfiguration | None = None,
        _telemetry_values: Any = None,
        compute_target: Any = None,
        environment: Environment | None = None,
        distributed_job_config: Any = None,
        resume_from: Any = None,
        max_run_duration_seconds: int = MAX_DURATION_SECONDS_DEFAULT,
        command: list[Any] | str | None = None,
        docker_runtime_config: DockerConfiguration | None = None,
    ) -> None:
        where = "ScriptRunConfig()"
        self.source_directory = as_path_text(
            source_directory, f"{where}: source_directory"
        )
        check_type(script, str, f"{where}: script", "a str")
        check_type(
            run_config, RunConfiguration, f"{where}: run_config", "a RunConfiguration"
        )
        check_type(environment, Environment, f"{where}: environment", "an Environment")
        _check_duration(max_run_duration_seconds)
        if resume_from is not None:
            raise RunConfigurationException(
                f"{where}: resume_from is not supported by a local run; pass the model "
                "location as an argument (a DataPath as an input) instead"
            )
        if docker_runtime_config is not None and not isinstance(
            docker_runtime_config, DockerConfiguration
        ):
            raise RunConfigurationException(
                f"{where}: docker_runtime_config must be a DockerConfiguration, not "
                f"{type(docker_runtime_config).__name__}"
            )
        if run_config is None:
            run_config = _fresh_run_config(
                compute_target, environment, max_run_duration_seconds
            )
            if distributed_job_config is not None:
                _distributed(distributed_job_config, run_config)
        elif (
            compute_target is not None
            or environment is not None
            or distributed_job_config is not None
            or docker_runtime_config is not None
            or max_run_duration_seconds != MAX_DURATION_SECONDS_DEFAULT
        ):
            warnings.warn(
                "ScriptRunConfig(): run_config was given, so compute_target, environment, "
                "distributed_job_config, docker_runtime_config and "
                "max_run_duration_seconds are taken from it, not from these arguments",
                UserWarning,
                stacklevel=2,
            )
        self.run_config = run_config
        self.docker_runtime_config = docker_runtime_config
        self.script = script if script is not None else run_config.script
        self.arguments = _arguments(arguments, run_config)
        self.command = command if command is not None else (run_config.command or None)
        if isinstance(self.command, list | tuple):
            self.command = as_list(self.command, f"{where}: command")
        elif self.command is not None and not isinstance(self.command, str):
            raise type_error(f"{where}: command", "a list or a str", self.command)
        if (self.script is None) == (self.command is None):
            raise RunConfigurationException(
                f"{where}: give either script or command (not both, not neither); "
                f"script={self.script!r}, command={self.command!r}"
            )

    @property
    def target(self) -> str:
        """The compute target's name (``local`` unless one was given)."""
        return self.run_config.target

    def __repr__(self) -> str:
        what = f"script={self.script!r}" if self.script else f"command={self.command!r}"
        return f"ScriptRunConfig(source_directory={self.source_directory!r}, {what})"


def _check_duration(seconds: Any) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise type_error(
            "ScriptRunConfig(): max_run_duration_seconds", "an int", seconds
        )
    if seconds <= 0:
        raise RunConfigurationException(
            f"ScriptRunConfig(): max_run_duration_seconds must be > 0, not {seconds}"
        )


def _fresh_run_config(
    compute_target: Any, environment: Environment | None, seconds: int
) -> RunConfiguration:
    run_config = RunConfiguration()
    run_config.target = "local" if compute_target is None else compute_target
    if environment is not None:
        run_config.environment = environment
    run_config.max_run_duration_seconds = seconds
    return run_config


def _arguments(arguments: Any, run_config: RunConfiguration) -> list[Any]:
    """The arguments as a list (a str is one shell-free word list, as the SDK splits it)."""
    if arguments is None:
        return copy.copy(run_config.arguments)
    if isinstance(arguments, str):
        import shlex

        return shlex.split(arguments)
    return as_list(arguments, "ScriptRunConfig(): arguments")
