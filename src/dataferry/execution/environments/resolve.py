"""From an ``EnvironmentSpec`` to the interpreter a step runs with, and its notes.

The notes (a pin replaced because dataferry needs its own version or because it does
not install on this Python, which interpreter a Python pin runs with, Docker settings not
applied, a curated name) go to the top of the step's log and into its run details.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dataferry.execution.environments.pythons import choose_python
from dataferry.execution.environments.requirements import (
    Resolution,
    requirement_names,
    resolve_request,
)
from dataferry.execution.environments.venvs import built_replacements, ensure_venv

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from dataferry.execution.plan_model import EnvironmentSpec

CACHE_FOLDER = "environments"  # in the workspace folder


@dataclass(frozen=True)
class ResolvedEnvironment:
    """The interpreter a step runs with; ``key`` names its cached venv (``""``: none)."""

    interpreter: str
    notes: tuple[str, ...]
    key: str = ""


def environment_key(spec: EnvironmentSpec) -> str:
    """The cache key of the venv ``spec`` needs here (``""`` if it needs none): part of
    the step's reuse fingerprint. Cheap: nothing is built."""
    return _resolution(spec).key if spec.installs else ""


def resolve_environment(
    spec: EnvironmentSpec,
    workspace_path: Path,
    report: Callable[[str], None] = lambda _: None,
) -> ResolvedEnvironment:
    """The interpreter to run a step with on this machine, building its venv if needed.

    Args:
        spec: the step's environment.
        workspace_path: the workspace folder (the venv cache is in it).
        report: called with progress lines while a venv is built.

    Raises:
        EnvironmentBuildError: a requirement cannot be satisfied.
    """
    request = spec.request or {}
    notes = _notes(spec)
    if not spec.installs:
        return ResolvedEnvironment(spec.resolve_interpreter(), tuple(notes))
    resolution = _resolution(spec)
    notes += resolution.notes
    pinned = choose_python(spec.name, request.get("python"), requirement_names(request))
    notes += pinned.notes
    if pinned.interpreter is not None:  # the pinned version's own interpreter
        return ResolvedEnvironment(pinned.interpreter, tuple(notes))
    if not resolution.key:
        notes.append(
            f"environment '{spec.name}': this interpreter ({sys.executable}) already "
            "satisfies every requirement"
        )
        return ResolvedEnvironment(sys.executable, tuple(notes))
    root = workspace_path / CACHE_FOLDER
    python = ensure_venv(root, resolution, spec.name, report)
    notes += [
        f"environment '{spec.name}': pin '{r.asked}' replaced by '{r.used}' ({r.why})"
        for r in built_replacements(root, resolution.key)
    ]
    notes.append(
        f"environment '{spec.name}': venv {resolution.key} with "
        f"{', '.join(resolution.install)}"
    )
    return ResolvedEnvironment(str(python), tuple(notes), resolution.key)


def build_all(
    specs: Iterable[EnvironmentSpec],
    workspace_path: Path,
    report: Callable[[str], None],
) -> None:
    """Resolve each distinct environment that installs packages, building what is not
    cached: done at submit, so a requirement that cannot be satisfied is an error
    before any step runs.

    Raises:
        EnvironmentBuildError: a requirement cannot be satisfied.
    """
    seen: set[str] = set()
    for spec in specs:
        token = json.dumps(spec.request, sort_keys=True)
        if spec.installs and token not in seen:
            seen.add(token)
            resolve_environment(spec, workspace_path, report)


_RESOLVED: dict[str, Resolution] = {}


def _resolution(spec: EnvironmentSpec) -> Resolution:
    """``resolve_request`` once per request in this process (fingerprinting and
    preparing a step both ask)."""
    token = json.dumps(spec.request, sort_keys=True)
    if token not in _RESOLVED:
        _RESOLVED[token] = resolve_request(spec.request or {}, spec.name)
    return _RESOLVED[token]


def _notes(spec: EnvironmentSpec) -> list[str]:
    """What the environment asked for that is recorded rather than done."""
    request, where = spec.request or {}, f"environment '{spec.name}'"
    notes = []
    if request.get("curated"):
        notes.append(
            f"curated {where} resolves to the current interpreter ({sys.executable}, "
            f"Python {sys.version.split()[0]})"
        )
    if request.get("unmanaged"):
        notes.append(
            f"{where} is user-managed: its packages ({', '.join(request['unmanaged'])}) "
            f"are not installed; {spec.resolve_interpreter()} runs as given"
        )
    if request.get("docker"):
        settings = ", ".join(f"{k}={v!r}" for k, v in request["docker"].items())
        notes.append(
            f"{where}: Docker settings recorded, not applied ({settings}); steps run "
            "without containers here"
        )
    return notes
