"""A small TCP forwarder (imported as ``servers.forward``): a port on an address of
the test's own (the head's end of a veth pair) passed on to a server on loopback, so
a node in another network namespace reaches it. Bound only where it is told; stopped
on leaving the context."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def forwarding(bind_ip: str, target_port: int) -> Iterator[int]:
    """Forward ``bind_ip:<free port>`` to ``127.0.0.1:target_port``; yield the port."""
    server = socket.create_server((bind_ip, 0))
    server.settimeout(0.2)
    stop = threading.Event()
    opened: list[socket.socket] = []  # every connection, closed on leaving

    def pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", target_port))
            opened.extend((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True, name="forward")
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()
        for conn in opened:
            conn.close()
