"""Profiling a driver, for whoever measures what a step costs it.

With ``DATAFERRY_PROFILE_DRIVER`` set to a folder in the submitting script's
environment, the driver (the agent's child, from the submission on; or a spawned or
forked driver) runs under ``cProfile`` and writes ``<folder>/driver-<pid>.prof``
when it ends (read it with ``python -m pstats``), and ``driver-<pid>.cpu``: the
process's user and system CPU seconds (its worker threads' included), then those of
the children it waited for (the steps' processes), on one line; an agent's child
forked ahead of the submission (``agent_spare``) counts its warm-up too, done
before the submission reached it. Each file appears
whole, the ``.cpu`` one last: the run's status turns final before its driver ends. The profile
counts the main thread's CPU time, not wall time: on a loaded machine wall time
mostly measures the load. With ``DATAFERRY_PROFILE_DRIVER_MODE=cpu`` only the
``.cpu`` file is written (the driver runs unprofiled, at its own speed). Unset,
nothing is imported and the call costs one environment lookup.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

PROFILE_ENV = "DATAFERRY_PROFILE_DRIVER"
MODE_ENV = "DATAFERRY_PROFILE_DRIVER_MODE"  # "cpu": the CPU seconds only
R = TypeVar("R")


def profiled(call: Callable[[], R]) -> R:
    """``call()``, under ``cProfile`` when ``DATAFERRY_PROFILE_DRIVER`` names a folder
    (created if missing); its result, or what it raised. The profile is written even
    when ``call`` raises.

    Raises:
        OSError: the profile's folder cannot be created or written.
    """
    folder = os.environ.get(PROFILE_ENV)
    if not folder:
        return call()
    import cProfile
    import time

    profile = None
    if os.environ.get(MODE_ENV) != "cpu":
        profile = cProfile.Profile(time.thread_time)
    try:
        return profile.runcall(call) if profile is not None else call()
    finally:
        os.makedirs(folder, exist_ok=True)
        base = os.path.join(folder, f"driver-{os.getpid()}")
        if profile is not None:
            profile.dump_stats(f"{base}.prof.tmp")
            os.replace(f"{base}.prof.tmp", f"{base}.prof")
        used = os.times()
        # written last, whole (renamed into place): once it is there, both are
        with open(f"{base}.cpu.tmp", "w", encoding="utf-8") as out:
            out.write(
                f"{used.user:.3f} {used.system:.3f} "
                f"{used.children_user:.3f} {used.children_system:.3f}\n"
            )
        os.replace(f"{base}.cpu.tmp", f"{base}.cpu")
