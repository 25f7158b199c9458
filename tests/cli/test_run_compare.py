"""The read model's runs search, a run's timeline from its events, and two runs
compared (steps, parameters, input versions, code files, metrics), on real runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from cli.compare_kit import two_runs

from dataferry.errors import RunNotFoundError, RunSearchError
from dataferry.execution import views

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace


@pytest.mark.slow
def test_two_runs_compared_searched_and_timed(
    workspace: Workspace, tmp_path: Path
) -> None:
    first, second = two_runs(workspace, tmp_path)
    c = views.compare_runs(workspace, first.id, second.id)

    assert [(s.name, s.change) for s in c.steps] == [
        ("keep", "same"),
        ("score", "changed"),
        ("extra", "added"),
    ]
    assert c.steps[1].reasons == (
        "source file score.py changed",
        "source file helper.py added",
        "input 'nums' now points at another path: workspaceblobstore:/a.csv, "
        "workspaceblobstore:/b.csv (was workspaceblobstore:/a.csv)",
        "1 file differs",
        "parameter 'factor' changed",
    )
    assert [(p.key, p.left, p.right) for p in c.parameters] == [("factor", 1, 2)]
    assert [(i.key, i.left, i.right) for i in c.inputs] == [
        ("score/nums", "nums:1", "nums:2")
    ]
    assert [(f.step, f.path, f.change) for f in c.files] == [
        ("score", "helper.py", "added"),
        ("score", "score.py", "changed"),
    ]
    assert [(m.key, m.left, m.right) for m in c.metrics] == [
        ("score/factor", 1.0, 2.0),
        ("score/rows", 2, 3),
    ]
    back = views.compare_runs(workspace, second.id, first.id)
    # the left run's steps first, in the order they were created
    assert {s.name: s.change for s in back.steps} == {
        "keep": "same",
        "score": "changed",
        "extra": "removed",
    }
    same = views.compare_runs(workspace, first.id, first.id)
    assert {s.change for s in same.steps} == {"same"}
    assert (same.parameters, same.inputs, same.files, same.metrics) == ((),) * 4

    timeline = views.run_timeline(workspace, second.id)
    shape = {s.name: (s.reused, [g.status for g in s.segments]) for s in timeline.steps}
    assert shape == {
        "keep": (True, ["Preparing", "Finished"]),
        "score": (False, ["Preparing", "Running", "Finished"]),
        "extra": (False, ["Preparing", "Running", "Finished"]),
    }
    for step in timeline.steps:  # each bar ends where the next begins
        for a, b in zip(step.segments, step.segments[1:], strict=False):
            assert a.end == b.start
        assert step.segments[-1].start == step.segments[-1].end
    assert timeline.last_event_id == views.newest_event_id(workspace)

    ids = lambda **f: [r.id for r in views.search_runs(workspace, **f)]  # noqa: E731
    assert ids(text=second.id[-8:].upper()) == []  # the id matches by prefix only
    assert ids(text=second.id) == [second.id]
    assert ids(text="CMP", status="Finished") == [second.id, first.id]
    assert ids(status="Failed") == []
    assert ids(experiment="cmp", limit=1) == [second.id]
    assert ids(experiment="other") == []


@pytest.mark.slow
def test_search_matches_descriptions_and_tags(
    workspace: Workspace, tmp_path: Path
) -> None:
    from cli.page_kit import talk_and_wait

    from dataferry.execution.experiment import Experiment

    flag = tmp_path / "go"
    flag.touch()
    pipeline = talk_and_wait(workspace, tmp_path, lines=1, flag=flag)
    run = Experiment(workspace, "tagged").submit(pipeline, tags={"team": "Vision"})
    run.wait_for_completion(show_output=False, timeout_seconds=120)
    logged = Experiment(workspace, "notes").start_logging(description="Nightly")
    logged.complete()
    ids = lambda text: [r.id for r in views.search_runs(workspace, text=text)]  # noqa: E731

    assert ids("team=vision") == [run.id]
    assert ids("vision") == [run.id]
    assert ids("nightly") == [logged.id]
    assert ids("tagged") == [run.id]
    assert ids("daily") == []


def test_bad_searches_and_unknown_runs_are_refused(workspace: Workspace) -> None:
    with pytest.raises(RunSearchError, match=r"status 'Done' is no run status; pick"):
        views.search_runs(workspace, status="Done")
    with pytest.raises(RunSearchError, match="the search text is 201 characters"):
        views.search_runs(workspace, text="x" * 201)
    with pytest.raises(RunNotFoundError, match="nope"):
        views.compare_runs(workspace, "nope", "nope2")
    with pytest.raises(RunNotFoundError, match="nope"):
        views.run_timeline(workspace, "nope")
    assert views.newest_event_id(workspace) == 0
