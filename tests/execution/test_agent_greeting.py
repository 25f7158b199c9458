"""A submission greets a listening local agent before its own checks (issue 8, item 6).

The agent's child reads the workspace facts while the script validates and compiles,
so the script does not wait for them afterwards. These tests pin what that may and may
not change: a refused pipeline records nothing; no agent is started before the checks;
a greeting is answered once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import write_script

from dataferry.errors import AgentError, PipelineValidationError
from dataferry.execution import agent_protocol as protocol
from dataferry.execution.agent_client import (
    AgentGreeting,
    AgentRecorder,
    running_agents,
    stop_agents,
)
from dataferry.execution.submission import EarlyRecorder, read_facts

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from dataferry import Workspace

STEP = """
import os, sys
os.makedirs(sys.argv[1], exist_ok=True)
"""


@pytest.fixture
def rt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private runtime folder, used by this process's submissions too."""
    folder = tmp_path / "rt"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("DATAFERRY_RUNTIME_DIR", str(folder))
    yield folder
    stop_agents()


@pytest.fixture
def listening(rt: Path, workspace: Workspace) -> Path:
    """``rt`` with this code's agent started and listening (one submission served)."""
    recorder = AgentRecorder.open(workspace)
    assert recorder is not None
    with recorder:  # ended unanswered: nothing recorded
        pass
    return rt


def _wait_for(condition: Any, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout_s} s")
        time.sleep(0.05)


def _served() -> int:
    (agent,) = running_agents()
    return int(agent["served"])


def _idle() -> bool:
    return int(running_agents()[0]["drivers"]) == 0


def test_no_agent_is_started_to_be_greeted_early(
    rt: Path, workspace: Workspace
) -> None:
    assert AgentGreeting.send(workspace, start=False) is None
    with EarlyRecorder(workspace):
        pass

    assert running_agents() == []
    assert not protocol.socket_path(rt, protocol.code_key()).exists()


@pytest.mark.slow  # starts an agent of its own
def test_an_early_greeting_is_answered_with_the_workspace_facts(
    listening: Path, workspace: Workspace
) -> None:
    with EarlyRecorder(workspace) as early:
        assert _served() == 2  # greeted at once, before any check
        with early.ready() as recorder:
            assert isinstance(recorder, AgentRecorder)
            assert recorder.facts == read_facts(workspace)
    _wait_for(_idle, "the agent's child's end")
    assert list(workspace.path.glob("runs/*")) == []


@pytest.mark.slow  # starts an agent of its own
def test_a_build_first_greets_only_when_ready(
    listening: Path, workspace: Workspace
) -> None:
    with EarlyRecorder(workspace, early=False) as early:
        assert _served() == 1  # an environment build may take minutes: not yet
        with early.ready() as recorder:
            assert _served() == 2
            assert isinstance(recorder, AgentRecorder)


@pytest.mark.slow  # starts an agent of its own
def test_a_greeting_is_answered_once(listening: Path, workspace: Workspace) -> None:
    greeting = AgentGreeting.send(workspace, start=False)
    assert greeting is not None
    recorder = greeting.answer()
    assert recorder is not None
    with (
        recorder,
        pytest.raises(
            AgentError, match=r"^this greeting of the local agent was already answered$"
        ),
    ):
        greeting.answer()
    closed = AgentGreeting.send(workspace, start=False)
    assert closed is not None
    closed.close()
    with pytest.raises(AgentError, match=r"already answered"):
        closed.answer()
    _wait_for(_idle, "the agent's children's end")


@pytest.mark.slow  # starts an agent of its own
@pytest.mark.parametrize(
    "refused",
    ["validate", "datastore"],
)
def test_a_pipeline_refused_after_the_greeting_records_nothing(
    listening: Path, workspace: Workspace, tmp_path: Path, refused: str
) -> None:
    from dataferry import (
        OutputFileDatasetConfig,
        Pipeline,
        PipelineParameter,
        PythonScriptStep,
    )

    src = write_script(tmp_path / "src", "step.py", STEP)
    if refused == "validate":  # found by validate(), before the facts are read
        arguments: list[list[object]] = [
            ["o", PipelineParameter("p", default_value=i)] for i in range(2)
        ]
        match = r"pipeline parameter 'p' is defined twice with different defaults"
    else:  # found against the facts the agent read
        out = OutputFileDatasetConfig(name="o", destination=("nowhere", "x"))
        arguments = [[out]]
        match = (
            r"step 's0': output 'o': no datastore named 'nowhere' in this workspace\."
        )
    steps = [
        PythonScriptStep("step.py", name=f"s{i}", arguments=a, source_directory=src)
        for i, a in enumerate(arguments)
    ]

    with pytest.raises(PipelineValidationError, match=match):
        Pipeline(workspace, steps=steps).submit("greeted")

    assert _served() == 2  # greeted, then the conversation ended unanswered
    _wait_for(_idle, "the agent's child's end")
    assert list(workspace.path.glob("runs/*")) == []
    assert list(workspace.path.glob("snapshots/*")) == []
