"""What the catalog hands out: frozen values, never SQLAlchemy rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """A saved dataset definition."""

    id: str
    kind: str
    definition: Mapping[str, Any]
    fingerprint: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DatasetVersionRecord:
    """One registered version of a named dataset."""

    name: str
    version: int
    dataset_id: str
    description: str | None
    tags: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    producer_step_run_id: str | None = None
    producer_output: str | None = None  # the output of that step run it reads


@dataclass(frozen=True, slots=True)
class ComputeTargetRecord:
    """A compute target of the workspace: where its steps run and how many at once.

    ``runs_on`` is ``"local"`` (this machine's processes); ``max_nodes`` bounds how
    many steps on the target run at once; ``config`` is the provisioning settings as
    given (vm_size, priority, idle time...), kept to be shown.
    """

    name: str
    kind: str
    runs_on: str
    max_nodes: int
    config: Mapping[str, Any] = field(default_factory=dict)
    state: str = "Succeeded"
    created_at: datetime | None = None
