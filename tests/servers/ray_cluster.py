"""A Ray head on loopback, started by the tests themselves (Ray comes with ``[dev]``).

Imported as ``servers.ray_cluster``. ``ray start --head --block`` runs in its own
session with the environment ``shared/reference/components.md`` prescribes: bound to
127.0.0.1 only, no token auth, no usage stats, no dashboard, a small object store, its
own temporary folder. It is stopped by pid (every process it started, found before the
stop), never with ``ray stop``, which would stop every Ray of the machine. The
environment is also set in the test process, so the drivers it starts reach the head.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
from servers.azurite import free_port
from servers.install_lock import installing

if TYPE_CHECKING:
    from collections.abc import Iterator

RAY_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # else Ray binds on every interface
    "RAY_AUTH_MODE": "disabled",  # else ray.init(address=...) retries for ~20 s
    "RAY_USAGE_STATS_ENABLED": "0",
}
OBJECT_STORE_BYTES = 100 * 2**20
_START_TIMEOUT_S = 60


class RayUnavailable(RuntimeError):
    """Ray is not installed or its head did not start."""


@dataclass(frozen=True)
class RayHead:
    """A running head: its GCS address (what a compute target's ``--ray`` names)."""

    port: int
    temp_dir: Path
    pid: int

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"


def ray_binary() -> Path:
    """The ``ray`` command of this interpreter's environment.

    Raises:
        RayUnavailable: Ray is not installed (``pip install -e '.[dev]'`` installs it).
    """
    binary = Path(sys.executable).parent / "ray"
    with installing("ray"):  # a half-made install by another worker is not used
        if not binary.exists():
            raise RayUnavailable(
                f"the Ray tests need Ray ({binary} is missing); install the dev "
                "extra: pip install -c constraints.txt -e '.[dev]'"
            )
    return binary


@contextlib.contextmanager
def running_ray_head(num_cpus: int = 2) -> Iterator[RayHead]:
    """Start a head on a free loopback port; on leaving, always, stop it and every
    process it started, and remove its folder.

    Raises:
        RayUnavailable: Ray is missing, or the head did not start in time.
    """
    binary = ray_binary()
    # short: Ray's socket paths inside it must stay under the 107-byte limit
    folder = Path(tempfile.mkdtemp(prefix="dfray-"))
    port = free_port()
    os.environ.update(RAY_ENV)
    command = [
        str(binary),
        "start",
        "--head",
        "--block",
        f"--port={port}",
        f"--num-cpus={num_cpus}",
        "--include-dashboard=false",
        "--node-ip-address=127.0.0.1",
        f"--temp-dir={folder}",
        f"--object-store-memory={OBJECT_STORE_BYTES}",
        "--disable-usage-stats",
    ]
    log = open(folder / "head.log", "wb")  # noqa: SIM115 (closed in finally)
    process = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **RAY_ENV},
        start_new_session=True,
    )
    try:
        _wait_ready(process, port, folder)
        yield RayHead(port, folder, process.pid)
    finally:
        _stop(process)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(process: subprocess.Popen[bytes], port: int, folder: Path) -> None:
    """Wait until the GCS answers and a raylet runs (its socket file exists)."""
    until = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < until:
        if process.poll() is not None:
            raise RayUnavailable(
                f"ray start exited with {process.returncode}: "
                f"{(folder / 'head.log').read_text()[-2000:]}"
            )
        if _answers(port) and list(folder.glob("session_*/sockets/raylet*")):
            return
        time.sleep(0.1)
    raise RayUnavailable(f"the Ray head did not start within {_START_TIMEOUT_S} s")


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _stop(process: subprocess.Popen[bytes]) -> None:
    """TERM the head and every process under it (listed first), then KILL the rest."""
    try:
        tree = [
            psutil.Process(process.pid),
            *psutil.Process(process.pid).children(True),
        ]
    except psutil.NoSuchProcess:
        tree = []
    for member in tree:
        with contextlib.suppress(psutil.Error):
            member.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(tree, timeout=10)
    for member in alive:
        with contextlib.suppress(psutil.Error):
            member.kill()
    psutil.wait_procs(alive, timeout=5)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=1)
