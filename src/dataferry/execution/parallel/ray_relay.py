"""The body of one Ray actor of a ParallelRunStep: a worker process it relays to.

Imports only the standard library and is shipped to the nodes by value (as
``executors.ray_task``), so the actor needs no dataferry; the worker process it
starts runs ``worker.serve`` with the step's interpreter and environment, exactly as
a local pool's worker does. The actor passes pickled messages through unopened
(``send_bytes``/``recv_bytes``): mini-batch specs in, rows out; the data itself is
read by the worker from the datastores. The worker dies with the actor
(``PR_SET_PDEATHSIG``), so killing the actor stops its mini-batch.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
from multiprocessing.connection import Connection
from typing import Any

CHILD_MODULE = "dataferry.execution.parallel.relay_child"
NODE_VARIABLE = "DATAFERRY_PRS_NODE_ID"
_PR_SET_PDEATHSIG = 1


class WorkerRelay:
    """Starts the worker process on this actor's node and relays its messages.

    Args:
        spec: ``interpreter``, ``cwd``, ``env``, ``agent``, ``log_path`` (appended
            with the worker's stdout and stderr) and ``worker_spec`` (the pickled
            ``WorkerSpec``, sent as the first message).
    """

    def __init__(self, spec: dict[str, Any]) -> None:
        ours, theirs = socket.socketpair()
        env = dict(spec["env"])
        env[NODE_VARIABLE] = _node_id()
        with open(spec["log_path"], "ab") as log:
            self._child = subprocess.Popen(
                [spec["interpreter"], "-m", CHILD_MODULE, str(theirs.fileno())],
                cwd=spec["cwd"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                pass_fds=(theirs.fileno(),),
                preexec_fn=_die_with_actor,  # the actor runs one call at a time
            )
        theirs.close()
        self._conn = Connection(ours.detach())
        self._conn.send_bytes(spec["worker_spec"])

    def ready(self) -> bytes:
        """The worker's first message: pickled ``("ready",)`` or
        ``("init_failed", text)``; ``("init_failed", ...)`` also if it died."""
        return self._receive("init() did not finish")

    def run(self, task: bytes) -> bytes:
        """Send one pickled mini-batch; return the worker's pickled answer."""
        self._conn.send_bytes(task)
        return self._receive("run() did not return")

    def node(self) -> str:
        """The id of the node this actor runs on."""
        return _node_id()

    def stop(self) -> int:
        """Ask the worker to stop; kill it if it has not after 5 s. Its exit code."""
        with contextlib.suppress(OSError):
            self._conn.send_bytes(_PICKLED_NONE)
        try:
            return self._child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._child.kill()
            return self._child.wait()

    def _receive(self, what: str) -> bytes:
        try:
            return self._conn.recv_bytes()
        except (EOFError, OSError):
            code = self._child.wait()
            # raised, so the pool sees a failed call, not an answer it must decode
            raise RuntimeError(
                f"{what}: the worker process exited with code {code}"
            ) from None


_PICKLED_NONE = b"\x80\x04N."  # pickle.dumps(None), what serve() takes as "stop"


def _node_id() -> str:
    try:
        import ray  # present: this runs inside a Ray actor

        return str(ray.get_runtime_context().get_node_id())
    except (ImportError, RuntimeError, AttributeError):
        return ""


def _die_with_actor() -> None:
    """In the child: be killed when the actor's process dies (killed or lost)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
