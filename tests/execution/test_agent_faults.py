"""The local agent under a hostile or unlucky user: garbage and slow clients on its
socket, malformed submissions, killed processes, odd environments, descriptors its
drivers must not keep, and its log's growth.

Each test starts its own agent in a runtime folder of its own.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import write_script

from dataferry.catalog.run_store import RunStore
from dataferry.errors import AgentError, AgentRequestError
from dataferry.execution import agent_protocol as protocol
from dataferry.execution.agent_client import error_from, request, stop_agents
from dataferry.execution.processes import marked_pid
from dataferry.execution.run_layout import run_dir
from dataferry.execution.submission import RunRequest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dataferry import Workspace

# every test here starts agent processes (and most a real catalog): not in the quick set
pytestmark = pytest.mark.slow

REFUSED = r"the local agent refused a message: "


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **extra}


def _wait_for(condition: Any, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout_s} s")
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _start_agent(folder: Path, key: str, idle_s: str = "60") -> int:
    """Start the agent for ``key`` in ``folder``; its pid once it listens."""
    command = [sys.executable, "-m", "dataferry.execution.agent", str(folder), key]
    log = protocol.log_path(folder, key).open("a")
    with log:
        started = subprocess.run(
            command,
            env=_env(DATAFERRY_AGENT_IDLE_S=idle_s),
            stdout=log,
            stderr=log,
            check=False,
            timeout=60,
        )
    assert started.returncode == 0
    _wait_for(protocol.socket_path(folder, key).exists, "the agent's socket")
    return int(protocol.pid_path(folder, key).read_text())


@pytest.fixture
def rt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private runtime folder, used by this process's submissions too."""
    folder = tmp_path / "rt"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("DATAFERRY_RUNTIME_DIR", str(folder))
    yield folder
    stop_agents()


@pytest.fixture
def agent(rt: Path) -> Iterator[int]:
    """An agent for key ``k`` in ``rt``; its pid (killed at the end if still alive)."""
    pid = _start_agent(rt, "k")
    yield pid
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """One agent for the tests that fork nothing: its runtime folder and pid."""
    folder = tmp_path_factory.mktemp("shared-rt")
    os.chmod(folder, 0o700)
    pid = _start_agent(folder, "k")
    yield folder, pid
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _connect(folder: Path, key: str = "k") -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(protocol.socket_path(folder, key)))
    sock.settimeout(10.0)
    return sock


def _answer(sock: socket.socket) -> dict[str, Any] | None:
    """The agent's answer, or None if it dropped the connection."""
    try:
        return protocol.receive(sock)
    except protocol.ProtocolError:
        return None


def _status_within(folder: Path, limit_s: float) -> dict[str, Any]:
    started = time.monotonic()
    status = request("status", folder, "k")
    assert status is not None
    assert time.monotonic() - started < limit_s
    return status


GOOD_HELLO = {"op": "submit", "workspace": "/w", "env": {}, "cwd": "/", "umask": 18}


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"op": "bogus"}, r"no op 'bogus': the ops are 'submit', 'status', 'stop'"),
        ({"op": ["x"]}, r"no op \['x'\]"),
        ({}, r"no op None"),
        ({"op": "submit"}, r"submit: field 'workspace' must be a str, not nothing"),
        ({**GOOD_HELLO, "workspace": 3}, r"field 'workspace' must be a str, not int"),
        ({**GOOD_HELLO, "env": "x"}, r"field 'env' must be a dict, not str"),
        ({**GOOD_HELLO, "umask": "022"}, r"field 'umask' must be a int, not str"),
        ({**GOOD_HELLO, "umask": True}, r"field 'umask' must be a int, not bool"),
        ({**GOOD_HELLO, "umask": 512}, r"'umask' must be between 0 and 0o777, not 512"),
        ({**GOOD_HELLO, "cwd": 1}, r"field 'cwd' must be a str or null, not int"),
        ({**GOOD_HELLO, "env": {"A": 1}}, r"field 'env': variable 'A' must have"),
        ({**GOOD_HELLO, "env": {"A=B": "x"}}, r"variable 'A=B' must have a name"),
        ({**GOOD_HELLO, "env": {"A": "x\0y"}}, r"neither holding a NUL byte"),
        ({**GOOD_HELLO, "workspace": "rel/ws"}, r"absolute path, not 'rel/ws'"),
    ],
)
def test_a_message_the_agent_does_not_take_is_answered_with_what_is_wrong(
    shared: tuple[Path, int], message: dict[str, Any], problem: str
) -> None:
    rt, _ = shared
    with _connect(rt) as sock:
        protocol.send(sock, message)
        answer = _answer(sock)

    assert answer is not None
    assert answer["error"]["type"] == "AgentRequestError"
    assert answer["error"]["message"].startswith(REFUSED)
    made = error_from(answer["error"])
    assert isinstance(made, AgentRequestError)
    assert isinstance(made, ValueError)
    with pytest.raises(AgentRequestError, match=problem):
        raise made
    # nothing was forked for it, and the agent serves on
    assert _status_within(rt, 1.0)["served"] == 0


@pytest.mark.parametrize(
    "garbage",
    [
        random.Random(64).randbytes(64),  # seeded: the same tests on every worker
        struct.pack(">I", 1 << 31) + b"x" * 10,  # a length far over the limit
        struct.pack(">I", 100) + b'{"op": "sta',  # half a message, then close
        struct.pack(">I", 5) + b"[1,2]",  # JSON, not an object
        struct.pack(">I", 4) + b"\xff\xfe\xfd\xfc",  # not UTF-8
        b"\x00\x00",  # half a header
    ],
    ids=[
        "random",
        "huge-length",
        "half-message",
        "json-list",
        "not-utf8",
        "half-header",
    ],
)
def test_garbage_is_refused_or_dropped_and_the_agent_serves_on(
    shared: tuple[Path, int], garbage: bytes
) -> None:
    rt, agent = shared
    with _connect(rt) as sock:
        sock.sendall(garbage)
        sock.shutdown(socket.SHUT_WR)
        answer = _answer(sock)

    if answer is not None:
        assert answer["error"]["type"] == "AgentRequestError"
    assert _status_within(rt, 1.0)["pid"] == agent
    assert _alive(agent)


def test_a_length_over_the_limit_says_so(shared: tuple[Path, int]) -> None:
    rt, _ = shared
    with _connect(rt) as sock:
        sock.sendall(struct.pack(">I", protocol.MAX_FIRST_MESSAGE + 1))
        answer = _answer(sock)

    assert answer is not None
    assert answer["error"]["message"] == (
        f"{REFUSED}a message of {protocol.MAX_FIRST_MESSAGE + 1} bytes is over the "
        f"limit of {protocol.MAX_FIRST_MESSAGE}; the submitting script and the agent "
        "must be the same dataferry version (or set DATAFERRY_AGENT=0)"
    )


@pytest.mark.slow
def test_slow_and_silent_clients_hold_up_no_one(shared: tuple[Path, int]) -> None:
    rt, agent = shared
    silent = _connect(rt)
    trickling = _connect(rt)
    trickling.sendall(struct.pack(">I", 1000))
    half = _connect(rt)
    half.sendall(struct.pack(">I", 1000) + b'{"op"')
    try:
        for _ in range(5):  # a byte at a time never finishes the message
            trickling.sendall(b"\x00")
            assert _status_within(rt, 0.5)["pid"] == agent
        # none of them is kept past its time: the agent drops them
        for sock in (silent, trickling, half):
            sock.settimeout(15.0)
            assert _answer(sock) is None
    finally:
        for sock in (silent, trickling, half):
            sock.close()
    assert _status_within(rt, 0.5)["served"] == 0


def test_a_connection_flood_leaves_the_agent_serving(shared: tuple[Path, int]) -> None:
    rt, agent = shared
    flood = [_connect(rt) for _ in range(300)]
    try:
        assert _status_within(rt, 2.0)["pid"] == agent
    finally:
        for sock in flood:
            sock.close()
    assert _status_within(rt, 1.0)["pid"] == agent


def _request(**change: Any) -> dict[str, Any]:
    good = RunRequest(
        run_id="exp_1_abcd",
        experiment="exp",
        plan={},
        parameters={},
        options={},
        tags=None,
        description=None,
        steps=[("s1", "n1", "step")],
    ).to_json()
    good["steps"] = [list(s) for s in good["steps"]]
    return {**good, **change}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("run", r"expected an object, got str"),
        ({"run_id": "x"}, r"field 'experiment' is missing"),
        (_request(plan=[]), r"field 'plan' must be dict, not list"),
        (_request(tags="t"), r"field 'tags' must be dict or null, not str"),
        (_request(run_id="../../etc"), r"run id '../../etc' is not a folder name"),
        (_request(run_id=".."), r"run id '..' is not a folder name"),
        (_request(run_id=""), r"run id '' is not a folder name"),
        (
            _request(steps=[["a", "b"]]),
            r"field 'steps' must hold \[step run id, node id",
        ),
        (_request(steps=[["a", "b", 3]]), r"field 'steps' must hold"),
        (_request(steps=[["a", "b", "c", "d"]]), r"field 'steps' must hold"),
        (_request(steps=[["a", "b", "c"], []]), r"field 'steps' must hold"),
        (_request(steps=["abc"]), r"field 'steps' must hold"),
        (_request(steps=[{"a": 1, "b": 2, "c": 3}]), r"field 'steps' must hold"),
        (_request(steps=[["a", "b", None]]), r"field 'steps' must hold"),
    ],
)
def test_a_malformed_run_request_names_its_fault(data: Any, problem: str) -> None:
    with pytest.raises(
        AgentRequestError, match=f"the run to record is malformed: {problem}"
    ):
        RunRequest.from_json(data)


def test_a_well_formed_run_request_reads_back() -> None:
    read = RunRequest.from_json(_request(tags={"a": "b"}, description="d"))
    assert (read.run_id, read.tags, read.description, list(read.steps)) == (
        "exp_1_abcd",
        {"a": "b"},
        "d",
        [("s1", "n1", "step")],
    )


def test_frames_put_together_from_single_bytes() -> None:
    body = b'{"op":"status"}'
    reader = protocol.FrameReader()
    wire = struct.pack(">I", len(body)) + body + b"next"
    got = None
    offset = 0
    while got is None:
        assert reader.wanted() >= 1
        got = reader.feed(wire[offset : offset + 1])
        offset += 1
    assert got == {"op": "status"}
    assert wire[offset:] == b"next"  # never read past the message


def _hello(workspace: Workspace) -> dict[str, Any]:
    return {
        "op": "submit",
        "workspace": str(workspace.path),
        "env": dict(os.environ),
        "cwd": "/",
        "umask": 0o022,
    }


@pytest.mark.parametrize(
    ("run", "problem"),
    [
        (None, r"expected an object, got NoneType"),
        ({"run_id": 1}, r"field 'run_id' must be str, not int"),
        ("escape", r"run id '../escape' is not a folder name"),
    ],
)
def test_a_malformed_run_on_a_real_conversation_records_nothing(
    rt: Path, agent: int, workspace: Workspace, run: Any, problem: str
) -> None:
    with _connect(rt) as sock:
        protocol.send(sock, _hello(workspace))
        assert "facts" in protocol.receive(sock)
        sent = _request(run_id="../escape") if run == "escape" else run
        protocol.send(sock, {"run": sent})
        answer = _answer(sock)

    assert answer is not None
    assert answer["error"]["type"] == "AgentRequestError"
    assert answer["error"]["message"].startswith("the run to record is malformed: ")
    with pytest.raises(AgentRequestError, match=problem):
        raise error_from(answer["error"])
    assert list(workspace.path.glob("runs/*")) == []
    assert not (workspace.path / "escape").exists()
    assert RunStore(workspace.catalog).list_runs() == []


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(p) for p in text)
    return found


def _serving(agent_pid: int) -> list[int]:
    """The agent's children serving a submission: each leads its own session (a spare
    waiting for one is in the agent's)."""
    return [
        pid
        for pid in _children(agent_pid)
        if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3]
        == str(pid)
    ]


def test_a_child_killed_mid_conversation_records_nothing(
    rt: Path, workspace: Workspace
) -> None:
    from dataferry.execution.agent_client import AgentRecorder, running_agents

    recorder = AgentRecorder.open(workspace)
    assert recorder is not None
    (agent,) = running_agents()
    (child,) = _serving(int(agent["pid"]))
    os.kill(child, signal.SIGKILL)
    _wait_for(lambda: not _alive(child), "the child's end")

    with (
        recorder,
        pytest.raises(
            AgentError,
            match=r"the local agent went away while recording run exp_1_abcd .*"
            r"`dataferry runs show exp_1_abcd` tells whether it was recorded",
        ),
    ):
        recorder.record(RunRequest.from_json(_request()))
    assert list(workspace.path.glob("runs/*")) == []
    assert RunStore(workspace.catalog).list_runs() == []
    _wait_for(lambda: running_agents()[0]["drivers"] == 0, "the child's reaping")


@pytest.mark.slow
def test_a_driver_keeps_none_of_the_agents_descriptors(
    rt: Path, workspace: Workspace, tmp_path: Path
) -> None:
    """Not the listener, not the lock: an agent started while the driver runs (the
    old one killed) takes the lock and listens."""
    from dataferry import Pipeline, PythonScriptStep
    from dataferry.execution.agent_client import running_agents

    flag = tmp_path / "go"
    wait = (
        f"import os, time\nwhile not os.path.exists({str(flag)!r}): time.sleep(0.02)\n"
    )
    steps = write_script(tmp_path / "s", "wait.py", wait)
    step = PythonScriptStep("wait.py", name="w", source_directory=steps)
    run = Pipeline(workspace, steps=[step]).submit("agent")
    (agent,) = running_agents()
    _wait_for(lambda: marked_pid(run_dir(workspace, run.id)) is not None, "the mark")
    driver = marked_pid(run_dir(workspace, run.id))
    fds = Path(f"/proc/{driver}/fd")
    held = {os.readlink(fd) for fd in fds.iterdir()}
    key = str(agent["key"])
    assert str(protocol.lock_path(rt, key)) not in held
    # the listener: the agent's socket descriptors, none of which the driver holds
    agent_sockets = {
        os.readlink(fd)
        for fd in Path(f"/proc/{agent['pid']}/fd").iterdir()
        if os.readlink(fd).startswith("socket:")
    }
    assert agent_sockets
    assert not agent_sockets & held

    os.kill(int(agent["pid"]), signal.SIGKILL)
    new = _start_agent(rt, key)
    assert new != agent["pid"]
    assert _alive(driver)
    flag.touch()
    assert run.wait_for_completion(show_output=False, timeout_seconds=60) == "Finished"


@pytest.mark.slow
def test_a_submission_from_a_removed_folder_goes_through_the_agent(
    rt: Path, workspace: Workspace, tmp_path: Path
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    steps = write_script(tmp_path / "s", "ok.py", "print('ok')\n")
    script = f"""
import os
os.chdir({str(gone)!r}); os.rmdir({str(gone)!r})
os.environb[b"ODD"] = b"caf\\xe9 \\xff"
from dataferry import Pipeline, PythonScriptStep, Workspace
ws = Workspace.from_config({str(workspace.path)!r})
step = PythonScriptStep("ok.py", name="ok", source_directory={str(steps)!r})
print(Pipeline(ws, steps=[step]).submit("agent").wait_for_completion(show_output=False))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_env(DATAFERRY_RUNTIME_DIR=str(rt)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "Finished"
    assert "submitting from this process" not in done.stderr
    from dataferry.execution.agent_client import running_agents

    (agent,) = running_agents()
    assert agent["served"] == 1


def test_a_long_log_is_rotated_when_an_agent_starts(tmp_path: Path) -> None:
    from dataferry.execution.agent import LOG_LIMIT

    folder = tmp_path / "rt"
    folder.mkdir(mode=0o700)
    log = protocol.log_path(folder, "k")
    log.write_bytes(b"old line\n" * (LOG_LIMIT // 9 + 1))
    pid = _start_agent(folder, "k", idle_s="0.3")
    _wait_for(lambda: not _alive(pid), "the idle agent's end")

    assert protocol.log_path(folder, "k").with_name("agent-k.log.1").stat().st_size > (
        LOG_LIMIT
    )
    lines = log.read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        f"agent {pid} listening",
        f"agent {pid} stopped after 0 submissions",
    ]
