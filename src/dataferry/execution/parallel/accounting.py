"""The failure account of a job: items and mini-batches lost, against the thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataferry.execution.parallel.options import ParallelOptions
    from dataferry.execution.parallel.progress import Finished


@dataclass
class Account:
    """Counts so far. An item fails with its dropped mini-batch, or when ``run``
    returned fewer elements than its mini-batch held."""

    total_batches: int
    succeeded: int = 0
    failed_batches: int = 0
    failed_items: int = 0

    def add(self, done: Finished) -> None:
        """Count a finished mini-batch."""
        if done.is_ok:
            self.succeeded += 1
            self.failed_items += max(0, done.items - len(done.rows))
        else:
            self.failed_batches += 1
            self.failed_items += done.items

    def exceeded(self, options: ParallelOptions, *, is_final: bool) -> str | None:
        """Which threshold is exceeded, as a sentence, or None.

        ``allowed_failed_percent`` is judged once every mini-batch has ended.
        """
        threshold = options.error_threshold
        if threshold != -1 and self.failed_items > threshold:
            return (
                f"{self.failed_items} failed items exceed error_threshold {threshold}"
            )
        allowed = options.allowed_failed_count
        if allowed is not None and allowed != -1 and self.failed_batches > allowed:
            return (
                f"{self.failed_batches} failed mini-batches exceed "
                f"allowed_failed_count {allowed}"
            )
        percent = options.allowed_failed_percent
        if is_final and percent is not None and self.total_batches:
            share = 100.0 * self.failed_batches / self.total_batches
            if share > percent:
                return (
                    f"{share:.1f}% of mini-batches failed, more than "
                    f"allowed_failed_percent {percent:g}"
                )
        return None
