"""Environments where a step runs: the current interpreter, a cached virtual
environment with the packages the step's environment declares, or the interpreter a
user-managed environment names.

``resolve_environment`` runs where the step runs (its preparation); ``build_all`` runs
at submit, so a requirement that cannot be satisfied fails the submit with
``EnvironmentBuildError`` before any run is recorded or any step starts. ``spec_of``
(``spec.py``) is all that compiling a plan needs; it loads none of the others, and the
names here load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry._lazy import lazy_exports

if TYPE_CHECKING:
    from dataferry.execution.environments.resolve import (
        ResolvedEnvironment as ResolvedEnvironment,
    )
    from dataferry.execution.environments.resolve import build_all as build_all
    from dataferry.execution.environments.resolve import (
        environment_key as environment_key,
    )
    from dataferry.execution.environments.resolve import (
        resolve_environment as resolve_environment,
    )
    from dataferry.execution.environments.spec import spec_of as spec_of

_RESOLVE = "dataferry.execution.environments.resolve"
_EXPORTS = {
    "ResolvedEnvironment": _RESOLVE,
    "build_all": _RESOLVE,
    "environment_key": _RESOLVE,
    "resolve_environment": _RESOLVE,
    "spec_of": "dataferry.execution.environments.spec",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

__all__ = sorted(_EXPORTS)
