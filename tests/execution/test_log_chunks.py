"""The read model's pieces that need no run: log chunks, waiting, durations, layout."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from dataferry.errors import LogOffsetError, WaitArgumentError
from dataferry.execution import run_layout
from dataferry.execution.views import (
    LogTail,
    format_duration,
    read_log_chunk,
    read_whole_log,
    wait_until,
)
from dataferry.execution.views.model import StepView

if TYPE_CHECKING:
    from pathlib import Path


def _read_all(path: Path, max_bytes: int) -> tuple[str, list[int]]:
    """Read a whole file chunk by chunk; return the text and each chunk's end."""
    texts, ends, offset = [], [], 0
    while True:
        chunk = read_log_chunk(path, offset, final=True, max_bytes=max_bytes)
        texts.append(chunk.text)
        ends.append(chunk.end)
        offset = chunk.end
        if not chunk.more:
            return "".join(texts), ends


class TestReadLogChunk:
    def test_whole_lines_until_final(self, tmp_path: Path) -> None:
        log = tmp_path / "stdout.txt"
        log.write_bytes(b"one\ntwo\nthr")
        chunk = read_log_chunk(log)
        assert (chunk.text, chunk.offset, chunk.end) == ("one\ntwo\n", 0, 8)
        assert chunk.lines == ["one", "two"]
        assert (chunk.restarted, chunk.more) == (False, False)
        final = read_log_chunk(log, chunk.end, final=True)
        assert (final.text, final.offset, final.end) == ("thr", 8, 11)

    def test_a_file_that_grows(self, tmp_path: Path) -> None:
        log = tmp_path / "stdout.txt"
        log.write_bytes(b"a\n")
        first = read_log_chunk(log)
        assert first.lines == ["a"]
        with log.open("ab") as fh:
            fh.write(b"b")
        held = read_log_chunk(log, first.end)
        assert (held.text, held.end) == ("", 2)
        with log.open("ab") as fh:
            fh.write(b"c\nd\n")
        assert read_log_chunk(log, held.end).lines == ["bc", "d"]

    @pytest.mark.parametrize(
        "char", ["é", "€", "😀"], ids=["2-byte", "3-byte", "4-byte"]
    )
    def test_a_character_written_in_pieces_waits_for_its_last_byte(
        self, tmp_path: Path, char: str
    ) -> None:
        log = tmp_path / "stdout.txt"
        encoded = char.encode()
        log.write_bytes(b"x" + encoded[:1])
        assert read_log_chunk(log).text == ""
        for size in range(2, len(encoded) + 1):
            log.write_bytes(b"x" + encoded[:size] + b"\n")
        assert read_log_chunk(log).lines == ["x" + char]

    @pytest.mark.parametrize("max_bytes", [4, 5, 6, 7, 9, 64])
    @pytest.mark.parametrize("newlines", [False, True], ids=["one-line", "lines"])
    def test_chunk_boundaries_never_split_a_character(
        self, tmp_path: Path, max_bytes: int, newlines: bool
    ) -> None:
        text = "aé€😀b" * 7
        if newlines:
            text = text.replace("b", "b\n")
        log = tmp_path / "stdout.txt"
        log.write_text(text, encoding="utf-8")
        whole, ends = _read_all(log, max_bytes)
        assert whole == text
        assert "\ufffd" not in whole
        assert ends[-1] == len(text.encode())
        for end in ends:  # every boundary lies between two characters
            log.read_bytes()[:end].decode("utf-8")

    def test_a_long_line_is_cut_between_characters_while_still_written(
        self, tmp_path: Path
    ) -> None:
        log = tmp_path / "stdout.txt"
        log.write_bytes("ab€cd".encode())  # a€ straddles byte 4
        chunk = read_log_chunk(log, max_bytes=4)
        assert (chunk.text, chunk.end, chunk.more) == ("ab", 2, True)
        rest = read_log_chunk(log, chunk.end, max_bytes=4)
        assert (rest.text, rest.end, rest.more) == ("€c", 6, True)

    def test_bytes_that_are_not_utf8_show_as_replacement_when_final(
        self, tmp_path: Path
    ) -> None:
        log = tmp_path / "stderr.txt"
        log.write_bytes(b"ok\n\xff\xfe end\xe2\x82")
        assert read_log_chunk(log).lines == ["ok"]
        final = read_log_chunk(log, final=True)
        assert final.lines == ["ok", "\ufffd\ufffd end\ufffd"]
        assert final.end == 11

    def test_a_file_written_anew_is_read_from_its_start(self, tmp_path: Path) -> None:
        log = tmp_path / "stdout.txt"
        log.write_bytes(b"first attempt, a long line\n")
        end = read_log_chunk(log).end
        log.write_bytes(b"again\n")  # a resumed step writes its log anew
        chunk = read_log_chunk(log, end)
        assert (chunk.text, chunk.offset, chunk.end) == ("again\n", 0, 6)
        assert chunk.restarted is True

    def test_a_missing_file_is_an_empty_chunk_at_the_offset(
        self, tmp_path: Path
    ) -> None:
        chunk = read_log_chunk(tmp_path / "not-yet.txt", 7)
        assert (chunk.text, chunk.offset, chunk.end, chunk.more) == ("", 7, 7, False)

    def test_chunks_are_frozen(self, tmp_path: Path) -> None:
        chunk = read_log_chunk(tmp_path / "none.txt")
        with pytest.raises(dataclasses.FrozenInstanceError):
            chunk.end = 3  # type: ignore[misc]

    @pytest.mark.parametrize("offset", [-1, True, 1.5, "0"])
    def test_an_offset_that_is_not_a_byte_position(
        self, tmp_path: Path, offset: object
    ) -> None:
        with pytest.raises(
            LogOffsetError,
            match=r"stdout.txt: offset .* is not a byte position; pass 0 or the `end`",
        ):
            read_log_chunk(tmp_path / "stdout.txt", offset)  # type: ignore[arg-type]
        assert issubclass(LogOffsetError, ValueError)
        assert LogOffsetError.exit_code == 2

    @pytest.mark.parametrize("max_bytes", [0, 3, -5])
    def test_a_chunk_size_too_small_for_a_character(
        self, tmp_path: Path, max_bytes: int
    ) -> None:
        with pytest.raises(
            LogOffsetError,
            match=rf"max_bytes {max_bytes} is too small; pass at least 4",
        ):
            read_log_chunk(tmp_path / "stdout.txt", 0, max_bytes=max_bytes)


def _step(log_dir: Path | None) -> StepView:
    return StepView(
        id="s1",
        run_id="r1",
        name="train",
        node_id="n1",
        status="Running",
        created_at=None,
        started_at=None,
        ended_at=None,
        duration_s=None,
        exit_code=None,
        reused_from=None,
        explanation=None,
        error=None,
        log_dir=log_dir,
        registrations=(),
    )


class TestLogTail:
    def test_new_lines_of_stdout_then_stderr(self, tmp_path: Path) -> None:
        step = _step(tmp_path)
        run_layout.stdout_path(tmp_path).write_text("out 1\nout 2 (unfinished)")
        run_layout.stderr_path(tmp_path).write_text("err 1\n")
        tail = LogTail()
        assert list(tail.step_lines(step, final=False)) == [
            ("stdout", "out 1"),
            ("stderr", "err 1"),
        ]
        assert list(tail.step_lines(step, final=False)) == []
        assert list(tail.step_lines(step, final=True)) == [
            ("stdout", "out 2 (unfinished)")
        ]

    def test_a_step_without_a_folder_has_no_lines(self) -> None:
        assert list(LogTail().step_lines(_step(None), final=True)) == []

    def test_a_log_larger_than_a_chunk_comes_whole(self, tmp_path: Path) -> None:
        log = tmp_path / "driver.log"
        lines = [f"line {i} é€" for i in range(120_000)]  # > 1 MiB
        log.write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert LogTail().lines(log, final=False) == lines
        assert read_whole_log(log) == log.read_text("utf-8")
        assert read_whole_log(tmp_path / "missing.log") == ""


class TestWaitUntil:
    def test_reads_until_done_and_shows_each_value(self) -> None:
        values = iter(range(10))
        seen: list[int] = []
        last = wait_until(
            lambda: next(values), lambda v: v == 3, poll_s=0.001, on_poll=seen.append
        )
        assert (last, seen) == (3, [0, 1, 2, 3])

    def test_a_zero_timeout_reads_once(self) -> None:
        reads: list[int] = []
        assert wait_until(lambda: reads.append(1) or "Running", bool, timeout_s=0) == (
            "Running"
        )
        assert wait_until(lambda: "x", lambda v: False, timeout_s=0) == "x"

    def test_a_timeout_returns_the_last_value(self) -> None:
        values = iter(range(1000))
        last = wait_until(
            lambda: next(values), lambda v: False, timeout_s=0.05, poll_s=0.01
        )
        assert 1 <= last < 1000

    @pytest.mark.parametrize(
        ("timeout_s", "poll_s", "message"),
        [
            (-1.0, 0.1, r"timeout of -1.0 s: pass a number of seconds >= 0, or None"),
            (float("nan"), 0.1, r"timeout of nan s"),
            (None, 0.0, r"poll interval of 0.0 s: pass a number of seconds > 0"),
            (1.0, -0.5, r"poll interval of -0.5 s"),
        ],
    )
    def test_bad_arguments(
        self, timeout_s: float | None, poll_s: float, message: str
    ) -> None:
        with pytest.raises(WaitArgumentError, match=message):
            wait_until(lambda: 1, bool, timeout_s=timeout_s, poll_s=poll_s)
        assert issubclass(WaitArgumentError, ValueError)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, ""),
        (-3.0, "0.0s"),
        (0.64, "0.6s"),
        (119.94, "119.9s"),
        (120.0, "2.0m"),
        (7199.0, "120.0m"),
        (7200.0, "2.0h"),
        (90_000.0, "25.0h"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_run_folder_layout(tmp_path: Path) -> None:
    ws_dir = tmp_path / "ws"
    run = ws_dir / "runs" / "r1"
    assert run_layout.run_dir(ws_dir, "r1") == run
    assert run_layout.run_dir(str(ws_dir), "r1") == run
    assert run_layout.driver_log(ws_dir, "r1") == run / "driver.log"
    assert run_layout.driver_out(ws_dir, "r1") == run / "driver.out"
    step = run_layout.step_dir(ws_dir, "r1", "s1")
    assert step == run / "s1"
    assert run_layout.stdout_path(step) == run / "s1" / "stdout.txt"
    assert run_layout.stderr_path(step) == run / "s1" / "stderr.txt"
    assert run_layout.context_file(step) == run / "s1" / "context.json"
    assert run_layout.work_dir(step) == run / "s1" / "wd"
    assert run_layout.run_dir_of_context(run_layout.context_file(step)) == str(run)
