"""The local agent records submitted runs and starts their drivers (issue 8, item 6).

Submitting scripts run in fresh interpreters here, as a user's ``python pipeline.py``
does; the agent they reach is this test session's (``local_agents`` in conftest), or one
a test starts in a runtime folder of its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import write_script

from dataferry.errors import CatalogError, PipelineValidationError
from dataferry.execution import agent_protocol as protocol
from dataferry.execution.agent_client import error_from, running_agents, stop_agents
from dataferry.execution.processes import marked_pid
from dataferry.execution.run_layout import run_dir

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dataferry import Workspace

# one step writing what its process saw: an environment variable, its folder, umask
SEEN = """
import json, os, sys
mask = os.umask(0); os.umask(mask)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
with open(sys.argv[2] if len(sys.argv) > 2 else os.path.join(out, "seen.json"), "w") as fh:
    json.dump({"flag": os.environ.get("AGENT_TEST_FLAG"), "cwd": os.getcwd(),
               "umask": mask}, fh)
"""

SUBMIT = """
import json, os, sys
os.umask(int(os.environ.get("UMASK", "022"), 8))
from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep, Workspace
ws = Workspace.from_config({workspace!r})
out = OutputFileDatasetConfig(name="seen")
step = PythonScriptStep("seen.py", name="seen", arguments=[out, {report!r}],
                        source_directory={steps!r}, allow_reuse=False)
run = Pipeline(ws, steps=[step]).submit("agent")
status = run.wait_for_completion(show_output=False)
heavy = sorted({{n.split(".")[0] for n in sys.modules}} & {{"sqlalchemy", "pyarrow"}})
print(json.dumps({{"run": run.id, "status": status, "heavy": heavy}}))
"""


def _submit(workspace: Workspace, steps: Path, cwd: Path, **env: str) -> dict[str, Any]:
    """Submit the one-step pipeline from a script started in ``cwd`` with ``env``
    added; what the script saw, with what its step saw under ``"seen"``."""
    report = cwd / "seen.json"
    script = SUBMIT.format(
        workspace=str(workspace.path), steps=str(steps), report=str(report)
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env},
    )
    assert result.returncode == 0, result.stderr
    said: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return {**said, "seen": json.loads(report.read_text())}


@pytest.fixture
def steps(tmp_path: Path) -> Path:
    return write_script(tmp_path / "steps", "seen.py", SEEN)


@pytest.fixture
def own_agents(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A runtime folder of the test's own: the agents in it are the test's alone."""
    folder = tmp_path / "agents"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("DATAFERRY_RUNTIME_DIR", str(folder))
    yield folder
    stop_agents()


def _wait_for(condition: Any, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout_s} s")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie has ended too
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_runs_through_the_agent_with_the_scripts_environment(
    workspace: Workspace, steps: Path, tmp_path: Path, own_agents: Path
) -> None:
    here = tmp_path / "here"
    there = tmp_path / "there"
    here.mkdir()
    there.mkdir()

    first = _submit(workspace, steps, here, AGENT_TEST_FLAG="one")
    second = _submit(workspace, steps, there, AGENT_TEST_FLAG="two", UMASK="027")

    # the submitting scripts loaded no catalog code: the agent recorded the runs
    assert (first["status"], first["heavy"]) == ("Finished", [])
    assert (second["status"], second["heavy"]) == ("Finished", [])
    # each run's step saw its own script's environment and umask, not the agent's
    # nor the previous submission's
    seen_first = first["seen"]
    seen_second = second["seen"]
    assert seen_first["flag"] == "one"
    assert seen_second["flag"] == "two"
    # a step works in its own folder of the run, wherever the script was started
    assert seen_first["cwd"].startswith(str(workspace.path / "runs" / first["run"]))
    assert (seen_first["umask"], seen_second["umask"]) == (0o022, 0o027)
    (agent,) = running_agents()
    assert agent["served"] == 2


def test_an_unknown_datastore_is_listed_before_anything_is_written(
    workspace: Workspace, steps: Path
) -> None:
    from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep

    out = OutputFileDatasetConfig(name="o", destination=("nowhere", "x/{run-id}"))
    step = PythonScriptStep(
        "seen.py", name="s", arguments=[out], source_directory=steps
    )
    pipeline = Pipeline(workspace, steps=[step])

    with pytest.raises(
        PipelineValidationError,
        match=r"step 's': output 'o': no datastore named 'nowhere' in this workspace\.",
    ):
        pipeline.submit("agent")

    assert not (workspace.path / "snapshots").exists() or not any(
        (workspace.path / "snapshots").iterdir()
    )
    assert list(workspace.path.glob("runs/*")) == []


def test_a_catalog_the_agent_cannot_open_is_the_same_error_as_without_it(
    workspace: Workspace, steps: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dataferry import Pipeline, PythonScriptStep, Workspace

    step = PythonScriptStep(
        "seen.py", name="s", arguments=["x"], source_directory=steps
    )
    monkeypatch.setenv("DATAFERRY_CATALOG_URL", f"sqlite:///{tmp_path}/no/such/c.db")
    errors = []
    for agent in ("1", "0"):
        monkeypatch.setenv("DATAFERRY_AGENT", agent)
        fresh = Workspace(path=workspace.path)  # no catalog opened in this process
        with pytest.raises(CatalogError) as caught:
            Pipeline(fresh, steps=[step]).submit("agent")
        errors.append((type(caught.value), str(caught.value)))

    assert errors[0] == errors[1]


def test_an_agent_error_becomes_the_same_dataferry_error_where_it_can() -> None:
    made = error_from({"type": "CatalogError", "message": "no catalog"})
    assert (type(made), str(made)) == (CatalogError, "no catalog")
    worded = error_from(
        {
            "type": "WorkspaceExistsError",
            "message": "pass exist_ok=True",
            "cli_message": "pass --exist-ok",
        }
    )
    assert (type(worded).__name__, str(worded)) == (
        "WorkspaceExistsError",
        "pass exist_ok=True",
    )
    assert worded.for_cli() == "pass --exist-ok"  # the CLI's wording survives the agent
    # an error made from more than a message, or not dataferry's: AgentError
    odd = error_from({"type": "PipelineValidationError", "message": "2 problems"})
    assert (type(odd).__name__, str(odd)) == (
        "AgentError",
        "PipelineValidationError: 2 problems",
    )
    assert str(error_from({"type": "OSError", "message": "disk"})) == "OSError: disk"


@pytest.mark.slow
def test_a_killed_agent_leaves_its_run_going_and_a_new_agent_starts(
    workspace: Workspace, tmp_path: Path, own_agents: Path
) -> None:
    from dataferry import Pipeline, PythonScriptStep

    flag = tmp_path / "go"
    slow = write_script(
        tmp_path / "slow",
        "wait.py",
        f"""
        import os, time
        while not os.path.exists({str(flag)!r}):
            time.sleep(0.02)
        """,
    )
    run = Pipeline(
        workspace, steps=[PythonScriptStep("wait.py", name="w", source_directory=slow)]
    ).submit("agent")
    (agent,) = running_agents()
    os.kill(int(agent["pid"]), signal.SIGKILL)
    _wait_for(lambda: not _alive(int(agent["pid"])), "the agent's end")

    flag.touch()
    assert run.wait_for_completion(show_output=False, timeout_seconds=60) == "Finished"
    # the dead agent's socket file is still there; the next submission replaces it
    again = Pipeline(
        workspace, steps=[PythonScriptStep("wait.py", name="w2", source_directory=slow)]
    ).submit("agent")
    assert (
        again.wait_for_completion(show_output=False, timeout_seconds=60) == "Finished"
    )
    (new,) = running_agents()
    assert new["pid"] != agent["pid"]


@pytest.mark.slow
def test_a_killed_driver_is_reported_not_waited_for(
    workspace: Workspace, tmp_path: Path
) -> None:
    from dataferry import Pipeline, PythonScriptStep
    from dataferry.errors import RunStateError

    sleepy = write_script(tmp_path / "s", "sleep.py", "import time; time.sleep(60)\n")
    run = Pipeline(
        workspace,
        steps=[PythonScriptStep("sleep.py", name="z", source_directory=sleepy)],
    ).submit("agent")
    folder = run_dir(workspace, run.id)
    _wait_for(lambda: marked_pid(folder) is not None, "the driver's mark")
    driver = marked_pid(folder)
    assert driver is not None
    os.kill(driver, signal.SIGKILL)

    with pytest.raises(RunStateError, match="stopped progressing"):
        run.wait_for_completion(show_output=False, timeout_seconds=60)
    run.cancel()


@pytest.mark.slow  # starts agent processes of its own
def test_turned_off_or_unsafe_runtime_folder_submits_from_this_process(
    workspace: Workspace, steps: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dataferry import Pipeline, PythonScriptStep

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)  # others may read it: no socket may live there
    monkeypatch.setenv("DATAFERRY_RUNTIME_DIR", str(shared))
    step = PythonScriptStep(
        "seen.py", name="s", arguments=["out"], source_directory=steps
    )

    first = Pipeline(workspace, steps=[step]).submit("agent")
    monkeypatch.setenv("DATAFERRY_RUNTIME_DIR", str(tmp_path / "private"))
    monkeypatch.setenv("DATAFERRY_AGENT", "off")
    second = Pipeline(workspace, steps=[step]).submit("agent")

    for run in (first, second):
        assert run.wait_for_completion(show_output=False, timeout_seconds=60) in (
            "Finished",
            "Failed",
        )
    assert list(shared.iterdir()) == []
    assert not (tmp_path / "private").exists()


@pytest.mark.slow  # starts agent processes of its own
def test_two_agents_for_one_key_leave_one(tmp_path: Path) -> None:
    folder = tmp_path / "rt"
    folder.mkdir(mode=0o700)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "DATAFERRY_AGENT_IDLE_S": "30",
    }
    command = [sys.executable, "-m", "dataferry.execution.agent", str(folder), "k"]
    starters = [subprocess.Popen(command, env=env) for _ in range(2)]
    assert [p.wait(timeout=60) for p in starters] == [0, 0]
    sock = protocol.socket_path(folder, "k")
    _wait_for(sock.exists, "the agent's socket")
    pid = int(protocol.pid_path(folder, "k").read_text())
    try:
        from dataferry.execution.agent_client import request

        status = request("status", folder, "k")
        assert status is not None
        assert status["pid"] == pid
        assert request("stop", folder, "k") == {"stopping": True}
        _wait_for(lambda: not _alive(pid), "the agent's end")
        assert not sock.exists()
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow  # starts agent processes of its own
def test_an_idle_agent_exits(tmp_path: Path) -> None:
    folder = tmp_path / "rt"
    folder.mkdir(mode=0o700)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "DATAFERRY_AGENT_IDLE_S": "0.5",
    }
    command = [sys.executable, "-m", "dataferry.execution.agent", str(folder), "k"]

    # the agent keeps the output pipe open until it exits: this returns then
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0
    assert done.stdout.splitlines()[-1].endswith("stopped after 0 submissions")
    assert not protocol.socket_path(folder, "k").exists()
    assert not protocol.pid_path(folder, "k").exists()


def test_the_key_names_interpreter_code_and_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = protocol.code_key()
    assert len(key) == 16
    assert protocol.code_key() == key
    monkeypatch.setenv("PYTHONPATH", "/somewhere/else")
    assert protocol.code_key() != key


@pytest.mark.slow  # starts agent processes of its own
def test_cli_agent_status_and_stop(
    workspace: Workspace, steps: Path, own_agents: Path
) -> None:
    from click.testing import CliRunner

    from dataferry import Pipeline, PythonScriptStep
    from dataferry.cli.main import app

    step = PythonScriptStep(
        "seen.py", name="s", arguments=["o"], source_directory=steps
    )
    Pipeline(workspace, steps=[step]).submit("agent").wait_for_completion(
        show_output=False, timeout_seconds=60
    )
    runner = CliRunner()

    listed = runner.invoke(app, ["agent", "status", "--json"])
    assert listed.exit_code == 0, listed.output
    (agent,) = json.loads(listed.output)
    assert set(agent) == {
        "pid",
        "key",
        "started",
        "served",
        "drivers",
        "idle_s",
        "executable",
        "package",
    }
    text = runner.invoke(app, ["agent", "status"])
    assert text.output.startswith(f"agent {agent['pid']}: up ")

    stopped = runner.invoke(app, ["agent", "stop"])
    assert stopped.output == f"Stopped agent {agent['pid']}.\n"
    _wait_for(lambda: not _alive(int(agent["pid"])), "the agent's end")
    assert runner.invoke(app, ["agent", "status"]).output == "No agent is running.\n"
    assert stop_agents() == []


@pytest.mark.slow  # starts agent processes of its own
def test_leftover_conversation_ends_when_the_script_gives_up(
    workspace: Workspace, steps: Path, own_agents: Path
) -> None:
    """A script that finds problems after the agent answered closes the conversation:
    the agent's child ends and is reaped, nothing is recorded."""
    from dataferry import OutputFileDatasetConfig, Pipeline, PythonScriptStep

    out = OutputFileDatasetConfig(name="o", destination=("nowhere", "x"))
    step = PythonScriptStep(
        "seen.py", name="s", arguments=[out], source_directory=steps
    )
    with pytest.raises(PipelineValidationError):
        Pipeline(workspace, steps=[step]).submit("agent")
    (agent,) = running_agents()
    assert agent["served"] == 1
    _wait_for(lambda: running_agents()[0]["drivers"] == 0, "the agent's child's end")
    assert list(workspace.path.glob("runs/*")) == []
