"""The driver waits out a catalog it cannot reach instead of dying with its run.

``catalog.db_guard`` retries a lost connection for a few seconds: long enough for a
burst, too short for a server restart. A driver whose step ends while the server is
down must still record that end (the step's commit, the next step's Running, the
run's final status), so its writes go through a ``PatientRunStore``: on a
``CatalogUnavailableError`` it logs a warning naming the operation and tries again
with backoff (tenacity), until the catalog answers or the outage has lasted the
workspace's ``catalog_outage_window_s`` (default 10 minutes); then the error is raised
and the driver fails as it always did. The window counts from the outage's start, not
per write, so a driver that gives up gives up once: its later writes fail fast.

A write whose connection was lost at its COMMIT may have been recorded all the same;
its retry then finds the step already where it moved it (a commit or move is refused
from any other status), and that counts as done: nothing is recorded twice.

CLI commands open a plain ``RunStore``: they still fail within seconds.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_random_exponential,
)

from dataferry.catalog.run_store import RunStore
from dataferry.catalog.status import RunStatus, StepStatus
from dataferry.errors import (
    CatalogOutageWindowError,
    CatalogUnavailableError,
    StatusTransitionError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from dataferry.catalog.records import DatasetVersionRecord
    from dataferry.catalog.sql_catalog import SqlCatalog
    from dataferry.catalog.step_commit import StepCommit

log = logging.getLogger("dataferry.driver")

R = TypeVar("R")

WINDOW_SETTING = "catalog_outage_window_s"
DEFAULT_WINDOW_S = 600.0
# the first waits are short (a restart takes seconds), the longest is 15 s: a server
# back is noticed within that, and a long outage costs a warning per 15 s in the log
_FIRST_WAIT_S = 0.5
_MAX_WAIT_S = 15.0
# the methods a driver's patience covers: every write it makes, and the reads of a
# step's end (its inputs' check); the cancel check (run_status) is left out, it warns
# and checks again on the loop's next turn
_PATIENT = (
    "update_run",
    "move_run",
    "update_step_run",
    "move_step",
    "move_steps",
    "record_event",
    "acquire_lease",
    "release_leases",
    "mark_output_damaged",
    "live_outputs",
    "get_step_run",
    "get_run",
    "step_runs",
)


def outage_window(catalog: SqlCatalog) -> float:
    """The workspace's ``catalog_outage_window_s`` setting in seconds (default 600).

    Raises:
        CatalogOutageWindowError: the setting is not a number >= 0.
    """
    value = catalog.get_setting(WINDOW_SETTING, DEFAULT_WINDOW_S)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise CatalogOutageWindowError(
            f"workspace setting {WINDOW_SETTING}={value!r}: it is how long a driver "
            "waits for a catalog it cannot reach; set it to a number of seconds >= 0 "
            f"(default {DEFAULT_WINDOW_S:g})."
        )
    return float(value)


class CatalogPatience:
    """Runs catalog calls again while the catalog is unreachable, within one window.

    Args:
        window_s: how long an outage is waited out, counted from its first failure.
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._down_since: float | None = None

    def call(
        self,
        operation: str,
        fn: Callable[[], R],
        *,
        recorded: tuple[Callable[[], bool], R] | None = None,
    ) -> R:
        """``fn()``, tried again with backoff while it raises
        ``CatalogUnavailableError`` and the outage is within the window.

        ``recorded``: (a check, the result then). The check is asked when a retry is
        refused with ``StatusTransitionError``; True means an attempt whose
        connection was lost had been recorded, and the call returns that result.

        Raises:
            CatalogUnavailableError: the catalog was still unreachable when the window
                ended (at once if an earlier call already waited it out).
            Exception: whatever ``fn`` raises otherwise.
        """
        retrying = Retrying(
            retry=retry_if_exception_type(CatalogUnavailableError),
            stop=self._window_over,
            wait=self._wait,
            before_sleep=lambda state: _warn(operation, state),
            reraise=True,
        )
        lost = False
        for attempt in retrying:
            with attempt:
                try:
                    result = fn()
                except CatalogUnavailableError:
                    lost = True
                    if self._down_since is None:
                        self._down_since = time.monotonic()
                    raise
                except StatusTransitionError:
                    if lost and recorded is not None and recorded[0]():
                        log.warning(
                            "the catalog is back: %s had gone through", operation
                        )
                        self._down_since = None
                        return recorded[1]
                    raise
                self._down_since = None
                if lost:
                    log.warning("the catalog is back: %s went through", operation)
                return result
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _left(self) -> float:
        """The seconds left of the window (0: it is over)."""
        if self._down_since is None:
            return self.window_s
        return max(self.window_s - (time.monotonic() - self._down_since), 0.0)

    def _window_over(self, state: RetryCallState) -> bool:
        return self._left() <= 0.0

    def _wait(self, state: RetryCallState) -> float:
        backoff = wait_random_exponential(multiplier=_FIRST_WAIT_S, max=_MAX_WAIT_S)
        # never past the window's end: the last try is made as it ends
        return min(backoff(state), self._left())


def _warn(operation: str, state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    log.warning(
        "the catalog is unreachable: cannot %s yet (attempt %d, trying again in %.1fs;"
        " outputs staged stay as they are): %s",
        operation,
        state.attempt_number,
        wait,
        error,
    )


class PatientRunStore(RunStore):
    """The driver's ``RunStore``: its writes wait out a catalog outage (``CatalogPatience``).

    Args:
        catalog: the workspace's catalog.
        patience: the window shared by every call of this driver.
    """

    def __init__(self, catalog: SqlCatalog, patience: CatalogPatience) -> None:
        super().__init__(catalog)
        self.patience = patience

    def commit_step(self, commit: StepCommit) -> list[DatasetVersionRecord]:
        """``RunStore.commit_step``, waiting out an outage; a commit found recorded
        after a lost connection returns no versions (the driver reads none).

        Raises:
            CatalogUnavailableError: the catalog stayed unreachable through the window.
            StatusTransitionError: the step run is not Running and was not committed
                by this call.
        """
        finished = partial(self._step_is, commit.step_run_id, StepStatus.FINISHED)
        return self.patience.call(
            "commit step",
            lambda: RunStore.commit_step(self, commit),
            recorded=(finished, []),
        )

    def _step_is(self, step_run_id: str, status: StepStatus) -> bool:
        return RunStore.get_step_run(self, step_run_id).status == str(status)

    def _run_is(self, run_id: str, status: RunStatus) -> bool:
        return RunStore.run_status(self, run_id) == str(status)


def _patient(name: str) -> Callable[..., Any]:
    operation = name.replace("_", " ")

    def call(self: PatientRunStore, *args: Any, **kwargs: Any) -> Any:
        recorded: tuple[Callable[[], bool], Any] | None = None
        # a move recorded before its connection was lost is refused when tried again
        if name == "move_step":
            recorded = (
                partial(self._step_is, *_moved(args, kwargs, "step_run_id")),
                None,
            )
        elif name == "move_run":
            recorded = (partial(self._run_is, *_moved(args, kwargs, "run_id")), True)
        # looked up per call: RunStore's method as it is now (a test may wrap it)
        method = getattr(RunStore, name)
        return self.patience.call(
            operation, lambda: method(self, *args, **kwargs), recorded=recorded
        )

    call.__name__ = name
    call.__doc__ = f"``RunStore.{name}``, waiting out a catalog outage."
    return call


def _moved(args: tuple[Any, ...], kwargs: dict[str, Any], key: str) -> tuple[Any, Any]:
    """(id, status) of a ``move_step``/``move_run`` call, however they were passed."""
    given = dict(zip((key, "to"), args, strict=False)) | kwargs
    return given[key], given["to"]


for _name in _PATIENT:
    setattr(PatientRunStore, _name, _patient(_name))
