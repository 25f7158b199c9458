"""``python -m dataferry.execution.parallel.relay_child FD``: a worker started by a
Ray actor (``ray_relay``); it gets its ``WorkerSpec`` and agent name as the first
message on the socket ``FD``, then serves mini-batches like a local pool's worker."""

from __future__ import annotations

import sys
from multiprocessing.connection import Connection

from dataferry.execution.parallel.worker import serve


def main(argv: list[str]) -> int:
    """Serve on the inherited socket ``argv[0]`` until told to stop; 0."""
    conn = Connection(int(argv[0]))
    spec, agent = conn.recv()
    serve(spec, agent, conn)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
