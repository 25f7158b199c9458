"""A registered dataset version's lineage: the run and step that made it, and the runs
that read it. One function serves ``Dataset.get_lineage()``, ``dataferry dataset
lineage`` and the page of ``dataferry serve`` (re-exported by the read model,
``dataferry.execution.views``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from dataferry.data.workspace import Workspace

__all__ = ["DatasetLineage", "LineageProducer", "LineageReader", "dataset_lineage"]


@dataclass(frozen=True, slots=True)
class LineageProducer:
    """The step run that registered the version from its output ``output``."""

    run_id: str
    step_run_id: str
    step_name: str
    output: str | None


@dataclass(frozen=True, slots=True)
class LineageReader:
    """A step run that read the version through its input ``input_name``;
    ``reused_from`` is set when it reused the step run that read it."""

    run_id: str
    step_run_id: str
    step_name: str
    input_name: str
    reused_from: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DatasetLineage:
    """Where dataset ``name`` version ``version`` came from and who read it.

    ``produced_by`` is None for a version registered outside a run. ``read_by``
    lists reads of the version's definition: versions with identical definitions
    share one (``dataset_id``), so they share their readers.
    """

    name: str
    version: int
    dataset_id: str
    produced_by: LineageProducer | None
    read_by: tuple[LineageReader, ...]

    @property
    def reading_runs(self) -> list[str]:
        """The ids of the runs that read it, each once, oldest first."""
        return list(dict.fromkeys(r.run_id for r in self.read_by))


def dataset_lineage(
    workspace: Workspace, name: str, version: int | str = "latest"
) -> DatasetLineage:
    """The lineage of dataset ``name`` at ``version`` (a number or ``'latest'``).

    Raises:
        DatasetNotFoundError: no dataset of that name, or no such version.
        InvalidVersionError: ``version`` is neither a positive number nor 'latest'.
    """
    from dataferry.catalog.dataset_readers import readers_of
    from dataferry.catalog.run_store import RunStore
    from dataferry.data.abstract_dataset import parse_version

    record = workspace.catalog.get_version(name, parse_version(version))
    producer = None
    if record.producer_step_run_id:
        step = RunStore(workspace.catalog).get_step_run(record.producer_step_run_id)
        producer = LineageProducer(
            step.run_id, step.id, step.step_name, record.producer_output
        )
    reads = readers_of(workspace.catalog, record.dataset_id)
    return DatasetLineage(
        record.name,
        record.version,
        record.dataset_id,
        producer,
        tuple(
            LineageReader(
                r.run_id,
                r.step_run_id,
                r.step_name,
                r.input_name,
                r.reused_from,
                r.created_at,
            )
            for r in reads
        ),
    )
