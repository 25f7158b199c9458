"""The run feed and its display: one reader of a run's events and step output, shown
under a live summary on a terminal and as plain lines off it."""

from __future__ import annotations

import io
import re
from typing import TYPE_CHECKING

import pytest
from pipeline.kit import run_pipeline, write_script
from rich.console import Console

from dataferry import Pipeline, PythonScriptStep
from dataferry.execution import views
from dataferry.execution.run_display import RunDisplay
from dataferry.execution.run_feed import RunFeed
from dataferry.execution.watch import watch

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import PipelineRun, Workspace

CLOCK = r"\d\d:\d\d:\d\d"


def _pipeline(workspace: Workspace, tmp_path: Path, *, script: str) -> Pipeline:
    src = write_script(tmp_path / "src", "say.py", script)
    step = PythonScriptStep(
        "say.py", name="say", source_directory=str(src), allow_reuse=False
    )
    return Pipeline(workspace, [step])


@pytest.fixture
def finished(workspace: Workspace, tmp_path: Path) -> PipelineRun:
    script = "import sys\nprint('[bold]one[/bold]')\nprint('two', file=sys.stderr)\n"
    return run_pipeline(_pipeline(workspace, tmp_path, script=script))


def test_feed_orders_a_steps_output_between_its_start_and_end(
    workspace: Workspace, finished: PipelineRun
) -> None:
    feed = RunFeed(workspace, finished.id)
    texts = [(line.step, line.text) for line in feed.poll()]
    assert texts.index(("say", "Running")) < texts.index(("say", "[bold]one[/bold]"))
    assert texts.index(("say", "! two")) < texts.index(("say", "Finished"))
    assert texts[-1] == (None, "Finished")
    assert ("say", "Runs (rerun: allow_reuse=False)") in texts
    assert feed.poll() == []  # read on from where it was: nothing twice


def test_feed_read_at_once_keeps_a_chain_in_the_order_it_ran(
    workspace: Workspace, tmp_path: Path
) -> None:
    # one poll after the run: the first step's end still comes before the second's start
    src = write_script(tmp_path / "src", "say.py", "import sys\nprint(sys.argv[1])\n")
    first, second = (
        PythonScriptStep(
            "say.py",
            name=name,
            arguments=[name],
            source_directory=str(src),
            allow_reuse=False,
        )
        for name in ("first", "second")
    )
    second.run_after(first)
    run = run_pipeline(Pipeline(workspace, [second]))

    texts = [(line.step, line.text) for line in RunFeed(workspace, run.id).poll()]
    wanted = [
        ("first", "Running"),
        ("first", "first"),
        ("first", "Finished"),
        ("second", "Running"),
        ("second", "second"),
        ("second", "Finished"),
        (None, "Finished"),
    ]
    assert [t for t in texts if t in wanted] == wanted


def test_plain_display_writes_timestamped_lines_and_a_headline(
    workspace: Workspace, finished: PipelineRun
) -> None:
    out = io.StringIO()
    display = RunDisplay(workspace, finished.id, file=out)
    display.show()
    display.close()
    lines = out.getvalue().splitlines()
    assert all(re.match(rf"{CLOCK} \[(say|run)\] ", line) for line in lines), lines
    assert "[say] [bold]one[/bold]" in out.getvalue()
    assert re.fullmatch(
        rf"{CLOCK} \[run\] tests / {finished.id}: Finished · 1 of 1 steps done · "
        r"\d+\.\ds elapsed",
        lines[-1],
    )


def test_terminal_shows_lines_above_a_summary_and_the_step_table(
    workspace: Workspace, finished: PipelineRun
) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=80, color_system=None)
    assert watch(workspace, finished.id, console=console) == "Finished"
    shown = out.getvalue()
    assert "[say] [bold]one[/bold]" in shown  # a step's text is never rich markup
    assert "1 of 1 steps done · " in shown
    assert re.search(r"│ say\s+│ Finished", shown)
    assert shown.index("[say] Running") < shown.index("[say] Finished")


def test_estimate_is_the_median_of_earlier_finished_runs_of_the_same_steps(
    workspace: Workspace, tmp_path: Path
) -> None:
    pipeline = _pipeline(workspace, tmp_path, script="print('x')\n")
    first = run_pipeline(pipeline)
    other = run_pipeline(
        Pipeline(
            workspace,
            [
                PythonScriptStep(
                    "say.py", name="other", source_directory=str(tmp_path / "src")
                )
            ],
        )
    )
    second = run_pipeline(pipeline)
    before = views.run_detail(workspace, first.id)
    after = views.run_detail(workspace, second.id)
    assert views.expected_duration_s(workspace, before) is None  # none before it
    assert views.expected_duration_s(workspace, after) == before.duration_s
    # another pipeline (other step names) of the same experiment does not count
    assert views.run_detail(workspace, other.id).steps[0].name == "other"
