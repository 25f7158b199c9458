"""What the catalog hands out: frozen values, never SQLAlchemy rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


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
