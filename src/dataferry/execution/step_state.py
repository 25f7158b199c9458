"""What the driver knows of one step while its run is going (``StepState``).

Shared by the driver, which schedules the step, and ``step_outcome``, which records
what became of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataferry.catalog.status import StepStatus

if TYPE_CHECKING:
    from datetime import datetime

    from dataferry.catalog.run_store import StepRunRecord
    from dataferry.execution.commit import StagedOutput
    from dataferry.execution.executors import StepHandle
    from dataferry.execution.materialise import BoundInput
    from dataferry.execution.plan_model import PlanNode


@dataclass
class StepState:
    """One node while the run is going."""

    node: PlanNode
    record: StepRunRecord
    status: StepStatus = StepStatus.NOT_STARTED
    handle: StepHandle | None = None
    staged: list[StagedOutput] = field(default_factory=list)
    inputs: list[BoundInput] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    fingerprint_details: dict[str, Any] = field(default_factory=dict)
    explanation: str | None = None
    stop_reason: str = ""
    # when the step began preparing, while its row does not say so yet (see
    # ``StepOutcomes.preparing``); None once it does
    preparing_since: datetime | None = None

    @property
    def node_id(self) -> str:
        return self.node.node_id
