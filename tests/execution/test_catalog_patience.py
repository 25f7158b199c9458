"""The driver's patience with an unreachable catalog (``catalog_patience``): the window
setting, retries until the catalog answers, a give-up once the window is over, and a
retried move found recorded before its connection was lost."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import WAIT_S, write_script

from dataferry import Experiment, Pipeline, PythonScriptStep, Workspace
from dataferry.catalog.run_store import RunStore
from dataferry.errors import (
    CatalogOutageWindowError,
    CatalogUnavailableError,
    StatusTransitionError,
)
from dataferry.execution.catalog_patience import (
    DEFAULT_WINDOW_S,
    WINDOW_SETTING,
    CatalogPatience,
    outage_window,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def _failing(times: int, then: Exception | str) -> Callable[[], str]:
    """A call that raises CatalogUnavailableError ``times`` times, then returns
    ``then`` (or raises it); each call is counted in its ``calls`` list."""
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise CatalogUnavailableError("cannot move step: connection refused")
        if isinstance(then, Exception):
            raise then
        return then

    call.calls = calls  # type: ignore[attr-defined]
    return call


def test_the_window_is_a_workspace_setting(tmp_path: Path) -> None:
    ws = Workspace.create("ws", tmp_path / "p", show_output=False)
    try:
        assert outage_window(ws.catalog) == DEFAULT_WINDOW_S == 600.0
        ws.catalog.set_setting(WINDOW_SETTING, 30)
        assert outage_window(ws.catalog) == 30.0
        for bad in ("ten", -1, True, None, [5]):
            ws.catalog.set_setting(WINDOW_SETTING, bad)
            with pytest.raises(
                CatalogOutageWindowError,
                match=rf"catalog_outage_window_s={re.escape(repr(bad))}: .* set it to a number "
                r"of seconds >= 0 \(default 600\)",
            ):
                outage_window(ws.catalog)
    finally:
        ws.close()


def test_a_call_is_retried_until_the_catalog_answers() -> None:
    call = _failing(2, "moved")
    assert CatalogPatience(30).call("move step", call) == "moved"
    assert len(call.calls) == 3  # type: ignore[attr-defined]


def test_an_outage_past_the_window_raises_and_later_calls_give_up_at_once() -> None:
    patience = CatalogPatience(0.3)
    endless = _failing(10**6, "never")
    with pytest.raises(CatalogUnavailableError, match="cannot move step"):
        patience.call("move step", endless)
    assert len(endless.calls) > 1  # type: ignore[attr-defined]
    again = _failing(10**6, "never")
    with pytest.raises(CatalogUnavailableError, match="cannot move step"):
        patience.call("commit step", again)
    assert len(again.calls) == 1  # type: ignore[attr-defined]
    # once the catalog answers, the next outage has a window of its own
    assert patience.call("move run", _failing(0, "back")) == "back"
    assert patience.call("move run", _failing(1, "again")) == "again"


def test_a_retry_refused_because_the_lost_attempt_was_recorded_counts_as_done() -> None:
    refused = StatusTransitionError("step run s1: Finished -> Finished is not allowed")
    patience = CatalogPatience(30)
    done = patience.call(
        "commit step", _failing(1, refused), recorded=(lambda: True, "recorded")
    )
    assert done == "recorded"
    # not recorded after all: the refusal is the caller's
    with pytest.raises(StatusTransitionError, match="Finished -> Finished"):
        patience.call(
            "commit step", _failing(1, refused), recorded=(lambda: False, "recorded")
        )
    # no connection was lost: a refusal is never taken for a recorded attempt
    with pytest.raises(StatusTransitionError, match="Finished -> Finished"):
        patience.call(
            "commit step", _failing(0, refused), recorded=(lambda: True, "recorded")
        )


def test_a_run_with_a_bad_window_fails_saying_so(tmp_path: Path) -> None:
    ws = Workspace.create("ws", tmp_path / "p", show_output=False)
    try:
        ws.catalog.set_setting(WINDOW_SETTING, "ten")
        code = write_script(tmp_path / "code", "s.py", "print('hi')\n")
        step = PythonScriptStep("s.py", name="s", source_directory=str(code))
        run = Experiment(ws, "e").submit(Pipeline(ws, steps=[step]))
        status = run.wait_for_completion(
            show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
        )
        assert status == "Failed"
        error = RunStore(ws.catalog).get_run(run.id).error or ""
        assert error.startswith(
            "driver failed: workspace setting catalog_outage_window_s='ten': it is "
            "how long a driver waits"
        )
    finally:
        ws.close()
