"""Environments where a step runs: the current interpreter, a cached virtual
environment with the packages the step's environment declares, or the interpreter a
user-managed environment names.

``resolve_environment`` runs where the step runs (its preparation); ``build_all`` runs
at submit, so a requirement that cannot be satisfied fails the submit with
``EnvironmentBuildError`` before any run is recorded or any step starts.
"""

from dataferry.execution.environments.resolve import (
    ResolvedEnvironment,
    build_all,
    environment_key,
    resolve_environment,
    spec_of,
)

__all__ = [
    "ResolvedEnvironment",
    "build_all",
    "environment_key",
    "resolve_environment",
    "spec_of",
]
