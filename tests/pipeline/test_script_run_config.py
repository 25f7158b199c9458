"""ScriptRunConfig: the SDK's defaults and checks, with no file touched."""

from __future__ import annotations

import pytest

from dataferry import Environment, RunConfiguration, ScriptRunConfig
from dataferry.errors import PipelineTypeError, RunConfigurationException
from dataferry.pipeline.script_run_config import (
    DockerConfiguration,
    MpiConfiguration,
    PyTorchConfiguration,
    TensorflowConfiguration,
)


def test_defaults_build_a_fresh_run_configuration() -> None:
    env = Environment("train-env")

    src = ScriptRunConfig("missing-folder", "train.py", ["--lr", 0.1], environment=env)

    assert (src.source_directory, src.script, src.arguments) == (
        "missing-folder",
        "train.py",
        ["--lr", 0.1],
    )
    assert src.command is None
    assert src.run_config.target == "local"
    assert src.run_config.environment is env
    assert src.run_config.max_run_duration_seconds == 2592000


def test_compute_target_and_duration_go_into_the_new_run_config() -> None:
    src = ScriptRunConfig(
        ".", "t.py", compute_target="cpu-cluster", max_run_duration_seconds=60
    )

    assert (src.run_config.target, src.run_config.max_run_duration_seconds) == (
        "cpu-cluster",
        60,
    )


def test_a_given_run_config_wins_with_a_warning() -> None:
    rc = RunConfiguration(script="a.py", arguments=["--x", "1"])
    rc.target = "gpu"

    with pytest.warns(UserWarning, match="run_config was given, so compute_target"):
        src = ScriptRunConfig(".", run_config=rc, compute_target="cpu")

    assert (src.script, src.arguments, src.target) == ("a.py", ["--x", "1"], "gpu")


def test_a_string_of_arguments_is_split_and_a_command_replaces_the_script() -> None:
    assert ScriptRunConfig(".", "t.py", arguments="--a 1 --b 'x y'").arguments == [
        "--a",
        "1",
        "--b",
        "x y",
    ]
    assert ScriptRunConfig(".", command="python t.py --a 1").command == (
        "python t.py --a 1"
    )
    assert ScriptRunConfig(".", command=["python", "t.py"]).command == [
        "python",
        "t.py",
    ]


@pytest.mark.parametrize(
    ("config", "node_count", "framework", "communicator"),
    [
        (MpiConfiguration(node_count=2), 2, "Python", "IntelMpi"),
        (TensorflowConfiguration(worker_count=3), 3, "TensorFlow", "ParameterServer"),
        (PyTorchConfiguration("Gloo", node_count=4), 4, "PyTorch", "gloo"),
    ],
    ids=["mpi", "tensorflow", "pytorch"],
)
def test_distributed_job_config(
    config: object, node_count: int, framework: str, communicator: str
) -> None:
    rc = ScriptRunConfig(".", "t.py", distributed_job_config=config).run_config

    assert (rc.node_count, rc.framework, rc.communicator) == (
        node_count,
        framework,
        communicator,
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, RunConfigurationException, "give either script or command"),
        (
            {"script": "a.py", "command": "python b.py"},
            RunConfigurationException,
            r"not both, not neither\); script='a.py'",
        ),
        (
            {"script": "a.py", "distributed_job_config": "mpi"},
            RunConfigurationException,
            "distributed_job_config must be an MpiConfiguration.*not str",
        ),
        (
            {"script": "a.py", "docker_runtime_config": {"use_docker": True}},
            RunConfigurationException,
            "docker_runtime_config must be a DockerConfiguration, not dict",
        ),
        (
            {"script": "a.py", "max_run_duration_seconds": 0},
            RunConfigurationException,
            "max_run_duration_seconds must be > 0, not 0",
        ),
        (
            {"script": "a.py", "max_run_duration_seconds": "60"},
            PipelineTypeError,
            "max_run_duration_seconds",
        ),
        ({"script": 3}, PipelineTypeError, "ScriptRunConfig\\(\\): script"),
        (
            {"script": "a.py", "run_config": {"target": "local"}},
            PipelineTypeError,
            "run_config",
        ),
        (
            {"script": "a.py", "resume_from": "model/"},
            RunConfigurationException,
            "resume_from is not supported by a local run",
        ),
    ],
    ids=[
        "neither",
        "both",
        "distributed",
        "docker",
        "zero-duration",
        "str-duration",
        "script-type",
        "run-config-type",
        "resume-from",
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        ScriptRunConfig(".", **kwargs)  # type: ignore[arg-type]


def test_pytorch_backend_must_be_nccl_or_gloo() -> None:
    with pytest.raises(
        RunConfigurationException, match="'mpi' is not supported; use 'nccl' or 'gloo'"
    ):
        PyTorchConfiguration("mpi")
    with pytest.raises(RunConfigurationException, match="counts must be >= 1, not 0"):
        MpiConfiguration(node_count=0)


def test_docker_configuration_is_recorded() -> None:
    docker = DockerConfiguration(use_docker=True, shm_size="8g")

    src = ScriptRunConfig(".", "t.py", docker_runtime_config=docker)

    assert src.docker_runtime_config is docker
