"""A real two-node Ray cluster on one machine: a head and a worker node in a network
namespace of the test's own (imported as ``servers.ray_nodes``; needs root and ``ip``).

A veth pair joins this namespace (the head's end, ``HEAD_IP``) to a namespace made for
the worker (``WORKER_IP``), addresses in a private /30, so each node has its own
address and Ray sends no traffic anywhere but over that pair and loopback. The head
is labelled ``node=head``, the worker ``node=worker``. Every process is stopped by pid
and the namespace and pair are deleted on leaving, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
from servers.ray_cluster import OBJECT_STORE_BYTES, RAY_ENV, RayUnavailable, ray_binary
from servers.ray_cluster import _stop as stop_tree

if TYPE_CHECKING:
    from collections.abc import Iterator

_START_TIMEOUT_S = 90
_NO_DASHBOARD = "--include-dashboard=false"
_SUBNET = 213  # 10.213.<n>.0/30: private, unused by the machine's own networks


class NamespaceUnavailable(RuntimeError):
    """Not root, no ``ip``, or the namespace could not be made (the reason says)."""


@dataclass(frozen=True)
class TwoNodes:
    """The head's GCS address, and the worker node's raylet (what a test kills)."""

    head_ip: str
    worker_ip: str
    port: int
    worker_pid: int
    temp_dir: Path

    @property
    def address(self) -> str:
        """``<head ip>:<port>``: what a compute target's ``--ray`` names."""
        return f"{self.head_ip}:{self.port}"

    def worker_raylet(self) -> psutil.Process:
        """The worker node's raylet process.

        Raises:
            LookupError: it is not running.
        """
        for proc in psutil.Process(self.worker_pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if proc.name() == "raylet":
                    return proc
        raise LookupError("the worker node's raylet is not running")


def check_can_make_namespaces() -> None:
    """Raises NamespaceUnavailable unless this is root with ``ip``."""
    if os.geteuid() != 0:
        raise NamespaceUnavailable("a second Ray node needs root for `ip netns add`")
    if shutil.which("ip") is None:
        raise NamespaceUnavailable("a second Ray node needs the `ip` command")


@contextlib.contextmanager
def two_node_cluster(
    num_cpus: int = 1, worker_resources: dict[str, float] | None = None
) -> Iterator[TwoNodes]:
    """Start a head (this namespace) and a worker node (its own namespace); the
    worker alone has the custom ``worker_resources``.

    Raises:
        NamespaceUnavailable: not root, no ``ip``, or the namespace failed.
        RayUnavailable: Ray is missing or a node did not start in time.
    """
    check_can_make_namespaces()
    binary = ray_binary()
    tag = f"{os.getpid() % 100000}"
    net = f"10.{_SUBNET}.{os.getpid() % 250}"
    head_ip, worker_ip = f"{net}.1", f"{net}.2"
    with _namespace(f"dfray{tag}", f"dfh{tag}", f"dfw{tag}", head_ip, worker_ip) as ns:
        folder = Path(tempfile.mkdtemp(prefix="dfr2-"))
        port = _free_port(head_ip)
        head = worker = None
        try:
            head = _start(
                [*(str(binary), "start", "--head", f"--port={port}"), _NO_DASHBOARD],
                head_ip,
                "head",
                folder / "head",
                num_cpus,
                [],
            )
            _wait_for(head, folder / "head", lambda: _answers(head_ip, port))
            extra = [f"--resources={json.dumps(worker_resources)}"]
            worker = _start(
                [
                    *(str(binary), "start", f"--address={head_ip}:{port}"),
                    *(extra if worker_resources else []),
                ],
                worker_ip,
                "worker",
                folder / "worker",
                num_cpus,
                ["ip", "netns", "exec", ns],
            )
            _wait_for(worker, folder / "worker", lambda: _raylet_of(worker))
            yield TwoNodes(head_ip, worker_ip, port, worker.pid, folder)
        finally:
            for process in (worker, head):
                if process is not None:
                    stop_tree(process)
            shutil.rmtree(folder, ignore_errors=True)


def _start(
    command: list[str],
    ip: str,
    label: str,
    folder: Path,
    num_cpus: int,
    prefix: list[str],
) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True)
    command += [
        "--block",
        f"--num-cpus={num_cpus}",
        f"--node-ip-address={ip}",
        f"--labels=node={label}",
        f"--temp-dir={folder}",
        f"--object-store-memory={OBJECT_STORE_BYTES}",
        "--disable-usage-stats",
    ]
    # a worker joins only with multi-node clusters allowed; its own namespace bounds
    # what it binds to, and the head keeps the loopback-only setting
    allow = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"} if prefix else {}
    # the child keeps its own copy of the descriptor: ours is closed at once
    with open(folder / "node.log", "wb") as log:
        return subprocess.Popen(
            [*prefix, *command],
            stdout=log,
            stderr=subprocess.STDOUT,
            # each node its own step-runner folder (snapshots, step folders), as on
            # two machines: nothing of a node's folder is seen by the other
            env={
                **os.environ,
                **RAY_ENV,
                **allow,
                "DATAFERRY_NODE_ROOT": str(folder / "dataferry-node"),
            },
            start_new_session=True,
        )


def _wait_for(process: subprocess.Popen[bytes], folder: Path, ready: object) -> None:
    until = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < until:
        if process.poll() is not None:
            raise RayUnavailable(
                f"ray start exited with {process.returncode}: "
                f"{(folder / 'node.log').read_text()[-2000:]}"
            )
        if (
            callable(ready)
            and ready()
            and list(folder.glob("session_*/sockets/raylet*"))
        ):
            return
        time.sleep(0.1)
    raise RayUnavailable(f"a Ray node did not start within {_START_TIMEOUT_S} s")


def _raylet_of(process: subprocess.Popen[bytes]) -> bool:
    with contextlib.suppress(psutil.Error):
        return any(
            p.name() == "raylet" for p in psutil.Process(process.pid).children(True)
        )
    return False


def _answers(ip: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((ip, port)) == 0


def _free_port(ip: str) -> int:
    with socket.socket() as sock:
        sock.bind((ip, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _namespace(
    ns: str, head_end: str, worker_end: str, head_ip: str, worker_ip: str
) -> Iterator[str]:
    """A namespace ``ns`` joined to this one by a veth pair, both ends up with their
    /30 addresses, and loopback up inside; deleted on leaving (which drops the pair)."""
    steps = [
        ["ip", "netns", "add", ns],
        ["ip", "link", "add", head_end, "type", "veth", "peer", "name", worker_end],
        ["ip", "link", "set", worker_end, "netns", ns],
        ["ip", "addr", "add", f"{head_ip}/30", "dev", head_end],
        ["ip", "link", "set", head_end, "up"],
        [
            "ip",
            "netns",
            "exec",
            ns,
            "ip",
            "addr",
            "add",
            f"{worker_ip}/30",
            "dev",
            worker_end,
        ],
        ["ip", "netns", "exec", ns, "ip", "link", "set", worker_end, "up"],
        ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"],
    ]
    try:
        for command in steps:
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise NamespaceUnavailable(
                    f"`{' '.join(command)}` failed: {done.stderr.strip()}"
                )
        yield ns
    finally:
        subprocess.run(
            ["ip", "link", "del", head_end], capture_output=True, check=False
        )
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
