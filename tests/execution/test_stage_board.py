"""Which preparation stages are shown: only those that last (pure, given times).

Times are binary fractions, so their sums are exact.
"""

from __future__ import annotations

from dataferry.execution.stage_board import StageBoard


def test_a_stage_is_due_once_it_has_lasted() -> None:
    board = StageBoard(0.25)
    board.report("a", "hashing input 'raw'", at=10.0)
    assert board.next_due() == 10.25
    assert board.due(10.125) == []
    assert board.due(10.25) == [("a", "hashing input 'raw'")]
    assert board.due(11.0) == []  # returned once
    assert board.next_due() is None


def test_a_newer_stage_replaces_the_one_before_and_restarts_its_time() -> None:
    board = StageBoard(0.25)
    board.report("a", "hashing input 'raw'", at=10.0)
    board.report("a", "downloading input 'raw'", at=10.125)
    assert board.due(10.25) == []
    assert board.due(10.375) == [("a", "downloading input 'raw'")]


def test_a_step_done_preparing_shows_nothing_more() -> None:
    board = StageBoard(0.25)
    board.report("a", "linking input 'x'", at=1.0)
    board.report("b", "staging output 'y'", at=1.5)
    board.forget("a")
    board.forget("zz")  # never reported: nothing to forget
    assert board.next_due() == 1.75
    assert board.due(5.0) == [("b", "staging output 'y'")]


def test_several_steps_in_report_order() -> None:
    board = StageBoard(0.0)
    board.report("b", "one", at=1.0)
    board.report("a", "two", at=2.0)
    assert board.due(2.0) == [("b", "one"), ("a", "two")]
