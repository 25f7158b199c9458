"""The scheduler as a pure state machine: ready sets, concurrency, failure propagation,
``continue_on_failure``, cancel and the run's final status. No process, no catalog."""

from __future__ import annotations

import itertools

import pytest

from dataferry.errors import RunStateError, SchedulerStateError
from dataferry.execution.scheduler import Change, Phase, Scheduler, Skip

# a -> b -> d, a -> c -> d, e alone
DIAMOND = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []}


def run_all(s: Scheduler, fail: set[str]) -> list[Change]:
    """Drive ``s`` to its end: every begun node starts, then finishes or fails."""
    changes = []
    while not s.done:
        begun = s.next_to_prepare()
        running = s.nodes_in(Phase.RUNNING)
        assert begun or running, "stuck: nothing to begin and nothing running"
        for node in begun:
            s.started(node)
        for node in s.nodes_in(Phase.RUNNING):
            if s.phase(node) is not Phase.RUNNING:
                continue  # being stopped since another node failed
            if node in fail:
                changes.append(s.failed(node))
            else:
                s.finished(node)
        for node in s.nodes_in(Phase.STOPPING):
            s.stopped(node)
    return changes


def phases(s: Scheduler) -> dict[str, str]:
    return {n: s.phase(n).value for n in DIAMOND}


class TestReady:
    def test_roots_first_in_plan_order(self) -> None:
        s = Scheduler(DIAMOND, max_active=10)
        assert s.next_to_prepare() == ["a", "e"]
        assert s.next_to_prepare() == []  # each is handed out once

    def test_a_node_is_ready_when_all_its_upstream_finished(self) -> None:
        s = Scheduler(DIAMOND, max_active=10)
        s.next_to_prepare()
        s.finished("a")  # reused while preparing: no process
        assert s.next_to_prepare() == ["b", "c"]
        s.started("b")
        s.finished("b")
        assert s.next_to_prepare() == []  # d still waits for c
        s.started("c")
        s.finished("c")
        assert s.next_to_prepare() == ["d"]

    @pytest.mark.parametrize("limit", [1, 2, 3])
    def test_at_most_max_active_prepare_or_run(self, limit: int) -> None:
        fan = {"root": [], **{f"n{i}": ["root"] for i in range(6)}}
        s = Scheduler(fan, max_active=limit)
        assert s.next_to_prepare() == ["root"]
        s.finished("root")
        first = s.next_to_prepare()
        assert first == [f"n{i}" for i in range(limit)]
        for node in first:
            s.started(node)
        assert s.next_to_prepare() == []  # preparing and running both take a slot
        s.finished(first[0])
        assert s.next_to_prepare() == [f"n{limit}"]

    def test_given_finished_nodes_count_as_done(self) -> None:
        s = Scheduler(DIAMOND, phases={"a": Phase.FINISHED, "b": Phase.FINISHED})
        s.max_active = 10
        assert s.next_to_prepare() == ["c", "e"]

    def test_a_long_chain_is_handed_out_one_by_one(self) -> None:
        chain = {"n0": [], **{f"n{i}": [f"n{i - 1}"] for i in range(1, 20_000)}}
        s = Scheduler(chain, max_active=4)
        order = []
        while not s.done:
            (node,) = s.next_to_prepare()
            order.append(node)
            s.finished(node)
        assert order == list(chain)
        assert s.final_status() == "Finished"


class TestFailure:
    def test_without_continue_a_failure_cancels_the_rest(self) -> None:
        s = Scheduler(DIAMOND, max_active=10)
        s.next_to_prepare()  # a, e
        s.started("a")
        s.started("e")
        s.finished("a")
        s.next_to_prepare()  # b, c
        s.started("b")
        change = s.failed("c")  # c failed before its process started
        assert change == Change(cancelled=("d",), to_stop=("b", "e"))
        assert phases(s) == {
            "a": "finished",
            "b": "stopping",
            "c": "failed",
            "d": "canceled",
            "e": "stopping",
        }
        assert not s.done
        s.stopped("b")
        s.stopped("e")
        assert s.done
        assert s.final_status() == "Failed"

    def test_a_failure_cancels_preparing_nodes_too(self) -> None:
        s = Scheduler(DIAMOND, max_active=10)
        s.next_to_prepare()  # a, e preparing
        change = s.failed("a")
        assert change == Change(cancelled=("b", "c", "d", "e"))
        assert s.done
        assert s.final_status() == "Failed"

    def test_with_continue_only_dependants_are_skipped(self) -> None:
        s = Scheduler(DIAMOND, max_active=10, continue_on_failure=True)
        s.next_to_prepare()
        s.started("a")
        s.finished("a")
        s.next_to_prepare()  # b, c
        s.started("b")
        change = s.failed("b")
        assert change == Change(skipped=(Skip("d", "b"),))
        assert s.phase("c") is Phase.PREPARING  # c and e go on
        s.finished("c")
        s.started("e")
        s.finished("e")
        assert s.next_to_prepare() == []
        assert s.done
        assert s.final_status() == "Failed"
        assert phases(s) == {
            "a": "finished",
            "b": "failed",
            "c": "finished",
            "d": "skipped",
            "e": "finished",
        }

    def test_skips_reach_every_node_downstream_each_naming_its_upstream(
        self,
    ) -> None:
        chain = {"a": [], "b": ["a"], "c": ["b"], "d": ["c"], "x": []}
        s = Scheduler(chain, max_active=10, continue_on_failure=True)
        s.next_to_prepare()
        assert s.failed("a") == Change(
            skipped=(Skip("b", "a"), Skip("c", "b"), Skip("d", "c"))
        )
        s.started("x")
        s.finished("x")
        assert s.done
        assert s.final_status() == "Failed"

    def test_a_long_chain_is_skipped_without_recursion(self) -> None:
        chain = {"n0": [], **{f"n{i}": [f"n{i - 1}"] for i in range(1, 50_000)}}
        s = Scheduler(chain, continue_on_failure=True)
        s.next_to_prepare()
        change = s.failed("n0")
        assert len(change.skipped) == 49_999
        assert change.skipped[-1] == Skip("n49999", "n49998")
        assert s.done

    @pytest.mark.parametrize("continue_on_failure", [False, True])
    def test_every_way_of_failing_ends_with_every_node_ended(
        self, continue_on_failure: bool
    ) -> None:
        for fail in itertools.chain.from_iterable(
            itertools.combinations(DIAMOND, k) for k in range(len(DIAMOND) + 1)
        ):
            for limit in (1, 2, 5):
                s = Scheduler(
                    DIAMOND, max_active=limit, continue_on_failure=continue_on_failure
                )
                run_all(s, set(fail))
                assert all(s.phase(n) in {*Phase} - {Phase.WAITING} for n in DIAMOND)
                assert not s.nodes_in(Phase.PREPARING, Phase.RUNNING, Phase.STOPPING)
                expected = "Failed" if fail else "Finished"
                assert s.final_status() == expected, (fail, limit)

    def test_given_failed_nodes_skip_their_dependants(self) -> None:
        s = Scheduler(
            DIAMOND, max_active=10, phases={"a": Phase.FINISHED, "b": Phase.FAILED}
        )
        assert s.take_skips() == (Skip("d", "b"),)
        assert s.take_skips() == ()
        assert s.next_to_prepare() == ["c", "e"]


class TestCancel:
    def test_cancel_ends_waiting_and_preparing_and_stops_running(self) -> None:
        s = Scheduler(DIAMOND, max_active=10)
        s.next_to_prepare()  # a, e
        s.started("a")
        change = s.cancel()
        assert change == Change(cancelled=("b", "c", "d", "e"), to_stop=("a",))
        assert s.next_to_prepare() == []  # nothing begins after a cancel
        assert not s.done
        s.stopped("a")
        assert s.done
        assert s.final_status() == "Canceled"

    def test_cancel_twice_changes_nothing_more(self) -> None:
        s = Scheduler(DIAMOND, max_active=10)
        s.next_to_prepare()
        s.started("a")
        s.cancel()
        assert s.cancel() == Change()
        s.stopped("a")
        assert s.final_status() == "Canceled"

    def test_a_run_cancelled_after_a_failure_is_canceled(self) -> None:
        s = Scheduler(DIAMOND, max_active=10, continue_on_failure=True)
        s.next_to_prepare()
        s.started("a")
        s.started("e")
        s.failed("a")
        s.cancel()
        s.stopped("e")
        assert s.final_status() == "Canceled"

    def test_cancel_when_everything_ended_keeps_the_nodes(self) -> None:
        s = Scheduler({"a": []})
        s.next_to_prepare()
        s.finished("a")
        assert s.cancel() == Change()
        assert s.phase("a") is Phase.FINISHED
        assert s.final_status() == "Canceled"


class TestWrongEvents:
    def test_an_error_is_a_run_state_error_and_a_runtime_error(self) -> None:
        assert issubclass(SchedulerStateError, RunStateError)
        assert issubclass(SchedulerStateError, RuntimeError)

    @pytest.mark.parametrize(
        ("event", "message"),
        [
            ("started", "node 'a' cannot become running: it is waiting, not preparing"),
            (
                "finished",
                "node 'a' cannot become finished: it is waiting, not preparing or running",
            ),
            (
                "failed",
                "node 'a' cannot become failed: it is waiting, not preparing or running",
            ),
            (
                "stopped",
                "node 'a' cannot become canceled: it is waiting, not stopping",
            ),
        ],
    )
    def test_an_event_a_phase_does_not_allow(self, event: str, message: str) -> None:
        s = Scheduler(DIAMOND)
        with pytest.raises(SchedulerStateError, match=rf"^{message}$"):
            getattr(s, event)("a")

    def test_finishing_twice(self) -> None:
        s = Scheduler(DIAMOND)
        s.next_to_prepare()
        s.finished("a")
        with pytest.raises(
            SchedulerStateError,
            match=r"^node 'a' cannot become finished: it is finished, not preparing or running$",
        ):
            s.finished("a")

    def test_unknown_node(self) -> None:
        s = Scheduler(DIAMOND)
        with pytest.raises(SchedulerStateError, match=r"^no node 'zz' in the plan$"):
            s.phase("zz")

    def test_unknown_upstream(self) -> None:
        with pytest.raises(
            SchedulerStateError,
            match=r"^node 'b' depends on 'q', which is not in the plan$",
        ):
            Scheduler({"a": [], "b": ["q"]})

    def test_max_active_below_one(self) -> None:
        with pytest.raises(
            SchedulerStateError, match=r"^max_active must be at least 1, not 0$"
        ):
            Scheduler(DIAMOND, max_active=0)

    def test_a_given_phase_cannot_be_active(self) -> None:
        with pytest.raises(
            SchedulerStateError,
            match=r"^node 'a' cannot begin running: only waiting or ended nodes can be given$",
        ):
            Scheduler(DIAMOND, phases={"a": Phase.RUNNING})

    def test_final_status_before_the_end(self) -> None:
        s = Scheduler(DIAMOND)
        with pytest.raises(
            SchedulerStateError, match=r"^the run has nodes that have not ended$"
        ):
            s.final_status()
