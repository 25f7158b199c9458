"""A step without a runconfig compiles as one with a fresh ``RunConfiguration()``,
though none is made for it until someone asks for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry import Pipeline, PythonScriptStep
from dataferry.execution.plan import PlanCompiler
from dataferry.pipeline.runconfig import RunConfiguration

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace


def step(code: Path, name: str, config: RunConfiguration | None) -> PythonScriptStep:
    code.mkdir(exist_ok=True)
    (code / "s.py").write_text("")
    return PythonScriptStep(
        "s.py", name=name, source_directory=str(code), runconfig=config
    )


def test_the_default_compiles_as_a_fresh_run_configuration(
    workspace: Workspace, tmp_path: Path
) -> None:
    implicit = step(tmp_path / "code", "a", None)
    explicit = step(tmp_path / "code", "b", RunConfiguration())

    first, second = (
        PlanCompiler(Pipeline(workspace, steps=[implicit, explicit]), workspace)
        .compile()
        .nodes
    )

    assert first.environment == second.environment
    assert first.max_run_duration_seconds == second.max_run_duration_seconds is None
    assert implicit.has_default_runconfig
    assert not explicit.has_default_runconfig


def test_the_default_is_made_once_when_asked_and_then_used(
    workspace: Workspace, tmp_path: Path
) -> None:
    implicit = step(tmp_path / "code", "a", None)

    config = implicit.runconfig
    config.environment.python.conda_dependencies.add_pip_package("left-pad")

    assert implicit.runconfig is config
    assert not implicit.has_default_runconfig
    (node,) = (
        PlanCompiler(Pipeline(workspace, steps=[implicit]), workspace).compile().nodes
    )
    assert node.environment.request is not None
    assert node.environment.request["pip"] == ["left-pad"]
