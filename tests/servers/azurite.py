"""Azurite, the Azure Storage emulator, installed and started by the tests themselves.

Imported as ``servers.azurite``. The npm package is installed once into a git-ignored
folder of the project (``.servers/azurite``, pinned version) and reused after that; each
test session starts its own ``azurite-blob`` on 127.0.0.1 on a free port, with its data
in a temporary folder, and stops it when the session ends. Only the well-known
development account is used: nothing here ever reaches a real Azure endpoint.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from servers.install_lock import installing

if TYPE_CHECKING:
    from collections.abc import Iterator

AZURITE_VERSION = "3.37.0"
ACCOUNT = "devstoreaccount1"
# the emulator's published development key: not a secret
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
INSTALL_DIR = Path(__file__).resolve().parents[2] / ".servers" / "azurite"
_READY_TIMEOUT_S = 30.0
_AUTOSAVE_S = 5.5  # Azurite's metadata autosave interval (5 s), and a margin


class AzuriteUnavailable(RuntimeError):
    """Azurite could not be installed or started (npm missing, install failed...)."""


@dataclass(frozen=True)
class Azurite:
    """A running azurite-blob: where it listens and how to reach it."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        """The blob endpoint, ``http://127.0.0.1:<port>/devstoreaccount1``."""
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        """A connection string for the development account at this endpoint."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={self.endpoint};"
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def azurite_binary() -> Path:
    """The ``azurite-blob`` launcher, installing the pinned package first if needed.

    Raises:
        AzuriteUnavailable: npm is not on PATH, or the install failed.
    """
    binary = INSTALL_DIR / "node_modules" / ".bin" / "azurite-blob"
    stamp = INSTALL_DIR / f".installed-{AZURITE_VERSION}"
    if binary.exists() and stamp.exists():
        return binary
    with installing("azurite"):  # the other xdist worker may be installing it now
        if binary.exists() and stamp.exists():
            return binary
        _install(binary, stamp)
    return binary


def _install(binary: Path, stamp: Path) -> None:
    """``npm install`` the pinned package into ``INSTALL_DIR`` and stamp it."""
    npm = shutil.which("npm")
    if npm is None:
        raise AzuriteUnavailable(
            "the server tests need Azurite, installed with npm, but npm is not on PATH; "
            "install Node.js 20 and npm (apt-get install -y nodejs npm) and run again."
        )
    INSTALL_DIR.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(INSTALL_DIR),
            f"azurite@{AZURITE_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0 or not binary.exists():
        raise AzuriteUnavailable(
            f"npm install azurite@{AZURITE_VERSION} into {INSTALL_DIR} failed "
            f"(exit {done.returncode}): {done.stderr.strip()[-2000:]}"
        )
    stamp.touch()


def _answers(port: int) -> bool:
    # any HTTP answer (even 400 for a bare GET) means the server is serving
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


@contextlib.contextmanager
def running_azurite(location: Path) -> Iterator[Azurite]:
    """Start azurite-blob with its data in ``location``; stop it on leaving, always.

    Raises:
        AzuriteUnavailable: it could not be installed, or did not answer in time.
    """
    port = free_port()
    proc = _start(port, location)
    try:
        yield Azurite(port, proc)
    finally:
        _stop(proc)


class RestartableAzurite:
    """An azurite-blob of a fault test's own (own port, own folder) that the test can
    stop, pause and start again on the same port with the same data.

    Use as a context manager: it starts on entering and is stopped on leaving, always.
    """

    def __init__(self, location: Path) -> None:
        self.location = location
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RestartableAzurite:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def server(self) -> Azurite:
        """The running server's address (raises if it is stopped)."""
        assert self._proc is not None, "azurite is stopped"
        return Azurite(self.port, self._proc)

    def start(self) -> None:
        """Start it (again) on its port with its folder's data; returns once it answers."""
        if self._proc is None:
            self._proc = _start(self.port, self.location)

    def settle(self) -> None:
        """Wait until what was written so far is saved: Azurite keeps its metadata in
        memory and saves it every 5 s, and a stop loses what came after the last save
        (a container made just before, say), like a crash would."""
        time.sleep(_AUTOSAVE_S)

    def stop(self) -> None:
        """Stop it (connections are refused from now on); what it had saved stays in
        its folder (see ``settle``)."""
        if self._proc is not None:
            _stop(self._proc)
            self._proc = None

    def pause(self) -> None:
        """Freeze it (SIGSTOP): connections are accepted but never answered (slow)."""
        assert self._proc is not None, "azurite is stopped"
        os.killpg(self._proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server answer again (SIGCONT)."""
        assert self._proc is not None, "azurite is stopped"
        os.killpg(self._proc.pid, signal.SIGCONT)


def _start(port: int, location: Path) -> subprocess.Popen[bytes]:
    """Start azurite-blob on ``port`` with its data in ``location``; wait until it
    answers (stopping it if it does not)."""
    binary = azurite_binary()
    location.mkdir(parents=True, exist_ok=True)
    log = location / "azurite.log"  # a file, not a pipe: a pipe nobody reads can fill
    args = [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port)]
    args += ["--location", str(location), "--disableTelemetry"]
    args += ["--skipApiVersionCheck", "--loose", "--silent"]
    with log.open("ab") as out:  # a restart appends: the whole story stays readable
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopping it stops node's children
        )
    try:
        _wait_ready(proc, port, log)
    except BaseException:
        _stop(proc)
        raise
    return proc


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = log.read_text(errors="replace")[-2000:]
            raise AzuriteUnavailable(
                f"azurite-blob exited with {proc.returncode} before answering: {err}"
            )
        if _answers(port):
            return
        time.sleep(0.1)
    raise AzuriteUnavailable(
        f"azurite-blob did not answer on 127.0.0.1:{port} within {_READY_TIMEOUT_S} s"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait(timeout=10)
