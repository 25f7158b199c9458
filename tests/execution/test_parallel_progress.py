"""The progress log a resumed ParallelRunStep reads: finished mini-batches survive a
kill, a torn last line is run again, another configuration starts afresh."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry.execution.parallel.progress import Finished, ProgressLog, progress_key

if TYPE_CHECKING:
    from pathlib import Path

KEY = progress_key({"entry_script": "score.py"}, ["files:0:a:b:2", "files:0:c:c:1"])


def test_finished_batches_are_read_back_and_a_torn_line_is_dropped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "progress.jsonl"
    log = ProgressLog(path, KEY)
    log.record(Finished(0, True, 2, ["a 1", "b 2"]))
    log.record(Finished(1, False, 1, [], "boom"))
    log.close()
    with path.open("a") as f:
        f.write('{"batch": 2, "ok": tr')  # killed mid-write

    again = ProgressLog(path, KEY)

    assert again.finished == {
        0: Finished(0, True, 2, ["a 1", "b 2"]),
        1: Finished(1, False, 1, [], "boom"),
    }
    again.close()


def test_a_log_of_other_options_or_batches_is_started_afresh(tmp_path: Path) -> None:
    path = tmp_path / "progress.jsonl"
    log = ProgressLog(path, KEY)
    log.record(Finished(0, True, 2, ["a 1", "b 2"]))
    log.close()
    other = progress_key({"entry_script": "score.py"}, ["files:0:a:z:3"])

    fresh = ProgressLog(path, other)

    assert fresh.finished == {}
    fresh.close()
    assert path.read_text().splitlines() == [f'{{"key": "{other}"}}']


def test_a_recorded_batch_is_read_back_before_the_log_is_synced_or_closed(
    tmp_path: Path,
) -> None:
    # fsync is grouped, but each line reaches the system at once: a killed job
    # (which never closes the log) loses no finished mini-batch
    path = tmp_path / "progress.jsonl"
    log = ProgressLog(path, KEY)
    for index in range(3):
        log.record(Finished(index, True, 1, [f"row {index}"]))

    reader = ProgressLog(path, KEY)

    assert reader.finished == {i: Finished(i, True, 1, [f"row {i}"]) for i in range(3)}
    reader.close()
    log.close()
    log.close()  # closing twice is harmless (the job closes in a finally)
