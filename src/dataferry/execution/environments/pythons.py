"""A Python version pin (``CondaDependencies.create(python_version="3.X")``), on this
machine.

The pin is honoured by an interpreter of that version when the machine has one that
can run the step: ``pythonX.Y`` on ``PATH`` that really runs and reports that version
(a pyenv shim of a version that is not installed does not), imports dataferry (the
step's ``Run.get_context()`` needs it) and has every package the environment lists.
Otherwise the step runs with the current interpreter, and a warning naming both
versions, and why, goes to the step's log and run details.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

_PROBE_TIMEOUT_S = 30.0
# run by the candidate interpreter: its version, whether dataferry imports, and which
# of the distributions named in argv are missing
_PROBE = """\
import importlib.metadata as md, json, sys
try:
    import dataferry
    imports = True
except Exception:
    imports = False
missing = []
for name in sys.argv[1:]:
    try:
        md.distribution(name)
    except md.PackageNotFoundError:
        missing.append(name)
print(json.dumps({"version": "%d.%d.%d" % sys.version_info[:3],
                  "dataferry": imports,
                  "missing": missing}))
"""


@dataclass(frozen=True)
class PythonChoice:
    """The interpreter a pinned environment runs with: ``interpreter`` another one
    of the pinned version, or None for the current one; ``notes`` say which and why."""

    interpreter: str | None
    notes: tuple[str, ...]


def _wanted(pin: str) -> list[str]:
    return [p for p in pin.split(".") if p and p != "*"][:2]


def _current() -> str:
    return ".".join(str(n) for n in sys.version_info[:3])


def choose_python(
    name: str | None, pin: str | None, packages: Sequence[str]
) -> PythonChoice:
    """Which interpreter honours ``pin`` for environment ``name`` whose requirement
    lists ``packages`` (distribution names): see the module docstring."""
    here = [str(sys.version_info.major), str(sys.version_info.minor)]
    wanted = _wanted(pin or "")
    if not wanted or wanted == here[: len(wanted)]:
        return PythonChoice(None, ())
    command = f"python{'.'.join(wanted)}"
    found = shutil.which(command)
    why = _unusable(found, command, tuple(wanted), tuple(packages))
    if why:
        return PythonChoice(
            None,
            (
                f"warning: environment '{name}' pins Python {pin}, but {why}; the step "
                f"runs with Python {_current()} ({sys.executable}) instead",
            ),
        )
    return PythonChoice(
        found,
        (f"environment '{name}' pins Python {pin}: the step runs with {found}",),
    )


@functools.lru_cache(maxsize=64)
def _unusable(
    found: str | None, command: str, wanted: tuple[str, ...], packages: tuple[str, ...]
) -> str:
    """Why ``found`` cannot run the step ("" when it can); asked once per process
    (every step of a run with that environment asks)."""
    if found is None:
        return f"this machine has no {command} on PATH"
    try:
        done = subprocess.run(
            [found, "-c", _PROBE, *packages],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )
        report = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        report = None
    if report is None:
        return f"{found} does not run (is that Python version installed?)"
    version = str(report["version"])
    if tuple(version.split(".")[: len(wanted)]) != wanted:
        return f"{found} is Python {version}"
    if not report["dataferry"]:
        return f"{found} (Python {version}) cannot import dataferry"
    if report["missing"]:
        return f"{found} (Python {version}) lacks {', '.join(report['missing'])}"
    return ""
