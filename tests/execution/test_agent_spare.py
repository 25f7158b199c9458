"""The local agent's spare child (issue 8, item 6): forked ahead of a submission,
warmed, handed the submission; holding nothing of the agent's; gone with the agent;
and a gone spare costs a submission nothing but the fork it saved.

Each test starts its own agent (key ``k``) in a runtime folder of its own and talks
to it as a submitting script does.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dataferry.execution import agent_protocol as protocol
from dataferry.execution.agent_client import _hello, request

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dataferry import Workspace

# every test here starts agent processes: not in the quick set
pytestmark = pytest.mark.slow

KEY = "k"


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


def _session(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.extend(int(p) for p in (task / "children").read_text().split())
    return [p for p in found if _alive(p)]


def _spares(agent: int) -> list[int]:
    """The agent's children waiting for a submission (in the agent's session)."""
    return [p for p in _children(agent) if _session(p) != p]


def _serving(agent: int) -> list[int]:
    """The agent's children serving a submission (each leads its own session)."""
    return [p for p in _children(agent) if _session(p) == p]


def _one_spare(agent: int) -> int:
    _wait_for(lambda: len(_spares(agent)) == 1, "the agent's spare")
    (spare,) = _spares(agent)
    return spare


def _start_agent(folder: Path) -> int:
    """Start the agent for ``KEY`` in ``folder``; its pid once it listens."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "dataferry.execution.agent", str(folder), KEY]
    with protocol.log_path(folder, KEY).open("a") as log:
        started = subprocess.run(
            command, env=env, stdout=log, stderr=log, check=False, timeout=60
        )
    assert started.returncode == 0
    _wait_for(protocol.socket_path(folder, KEY).exists, "the agent's socket")
    return int(protocol.pid_path(folder, KEY).read_text())


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Path]:
    """A private runtime folder; its agent is killed at the end if still alive."""
    folder = tmp_path / "rt"
    folder.mkdir(mode=0o700)
    yield folder
    pid_file = protocol.pid_path(folder, KEY)
    if pid_file.exists() and _alive(int(pid_file.read_text())):
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _greet(rt: Path, workspace: Workspace) -> tuple[socket.socket, dict[str, Any]]:
    """A conversation's first message and its answer (the workspace facts)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    protocol.socket_call(protocol.socket_path(rt, KEY), sock.connect)
    sock.settimeout(60)
    protocol.send(sock, _hello(workspace))
    return sock, protocol.receive(sock)


def _status(rt: Path) -> dict[str, Any]:
    answer = request("status", rt, KEY)
    assert answer is not None
    return answer


def test_a_submission_is_served_by_the_spare_forked_before_it(
    rt: Path, workspace: Workspace
) -> None:
    agent = _start_agent(rt)
    spare = _one_spare(agent)

    sock, answer = _greet(rt, workspace)
    with sock:
        assert answer["facts"]["default_datastore"] == "workspaceblobstore"
        assert _serving(agent) == [spare]
        assert _status(rt)["drivers"] == 1
        # the next spare is forked once the agent is idle again
        assert _one_spare(agent) != spare
    # the conversation ended unanswered: the child exits, and is reaped
    _wait_for(lambda: not _alive(spare), "the served child's end")
    _wait_for(lambda: _status(rt)["drivers"] == 0, "the served child's reaping")
    assert _status(rt)["served"] == 1


def test_each_submission_gets_a_child_of_its_own(
    rt: Path, workspace: Workspace
) -> None:
    """Submissions quicker than the spare's refill: the spare serves one, a fork
    each of the others; every conversation is answered."""
    agent = _start_agent(rt)
    _one_spare(agent)
    conversations = [_greet(rt, workspace) for _ in range(3)]
    try:
        for _, answer in conversations:
            assert answer["facts"]["default_datastore"] == "workspaceblobstore"
        assert len(set(_serving(agent))) == 3
    finally:
        for sock, _ in conversations:
            sock.close()
    _wait_for(lambda: _status(rt)["drivers"] == 0, "the children's reaping")
    assert _status(rt)["served"] == 3


def test_a_spare_holds_none_of_the_agents_descriptors_and_ends_with_it(
    rt: Path,
) -> None:
    agent = _start_agent(rt)
    spare = _one_spare(agent)
    lock = str(protocol.lock_path(rt, KEY))

    def held() -> set[str]:
        return {os.readlink(fd) for fd in Path(f"/proc/{spare}/fd").iterdir()}

    # dropped as the spare starts, before its warm-up
    _wait_for(lambda: lock not in held(), "the spare's scrub of its descriptors")
    listener = {
        os.readlink(fd)
        for fd in Path(f"/proc/{agent}/fd").iterdir()
        if os.readlink(fd).startswith("socket:")
    }
    # the agent's sockets: its listener and its end of the pair, neither the spare's
    assert listener
    assert not listener & held()

    os.kill(agent, signal.SIGKILL)
    _wait_for(lambda: not _alive(spare), "the spare's end with its agent")
    # nothing of the old agent's is held: a new one takes the lock and listens
    assert _start_agent(rt) != agent


def test_a_gone_spare_costs_the_submission_nothing(
    rt: Path, workspace: Workspace
) -> None:
    agent = _start_agent(rt)
    spare = _one_spare(agent)
    os.kill(spare, signal.SIGKILL)
    _wait_for(lambda: not _alive(spare), "the spare's end")

    sock, answer = _greet(rt, workspace)
    with sock:
        assert answer["facts"]["default_datastore"] == "workspaceblobstore"
        (child,) = _serving(agent)
        assert child != spare
    _wait_for(lambda: _status(rt)["drivers"] == 0, "the children's reaping")
    assert _status(rt)["served"] == 1


def test_a_stopped_agent_leaves_no_spare(rt: Path) -> None:
    agent = _start_agent(rt)
    spare = _one_spare(agent)
    assert request("stop", rt, KEY) == {"stopping": True}
    _wait_for(lambda: not _alive(agent), "the agent's end")
    _wait_for(lambda: not _alive(spare), "the spare's end")
