"""A step's log searched a bounded slice at a time (``views.search_log`` and
``/api/runs/<id>/steps/<step>/log/search``): whole lines holding the text, ASCII
letters in any case, ``next`` to search on, every bad argument a typed refusal."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests
from cli.page_kit import talk_and_wait
from cli.test_serve import start_server
from cli.test_serve_refusals import refused

from dataferry.errors import (
    LogOffsetError,
    LogSearchError,
    LogStreamError,
    StepNotFoundError,
)
from dataferry.execution.views import log_search
from dataferry.execution.views.log_search import search_log

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]
LINES = 200_000  # "line {i} é", about 2.5 MB


@pytest.fixture
def finished(workspace: Workspace, tmp_path: Path) -> str:
    """The id of a finished run whose step 'talk' printed ``LINES`` lines."""
    flag = tmp_path / "go"
    flag.touch()
    run = talk_and_wait(workspace, tmp_path, lines=LINES, flag=flag).submit("find")
    run.wait_for_completion(show_output=False, timeout_seconds=120)
    assert run.get_status() == "Finished"
    return run.id


def texts(found: log_search.LogSearch) -> list[str]:
    return [m.text for m in found.matches]


def test_matches_in_pages_and_slices(
    workspace: Workspace, finished: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1999, 19990-19999, 199900-199999: 111 lines; any case
    first = search_log(workspace, finished, "talk", "LINE 1999", limit=100)
    assert texts(first)[:2] == ["line 1999 é", "line 19990 é"]
    assert len(first.matches) == 100 and first.next is not None
    rest = search_log(workspace, finished, "talk", "LINE 1999", after=first.next)
    assert len(rest.matches) == 11 and rest.next is None
    assert texts(rest)[-1] == "line 199999 é"
    hit = first.matches[0]
    assert (hit.end - hit.offset) == len("line 1999 é\n".encode())
    # a non-ASCII needle, and nothing found
    assert len(search_log(workspace, finished, "talk", "9 é").matches) == 100
    assert search_log(workspace, finished, "talk", "nope").matches == ()

    # a search reads at most SCAN_BYTES a request: on from `next`, nothing missed
    monkeypatch.setattr(log_search, "SCAN_BYTES", 1)
    after, pieces, seen = 0, 0, []
    while after is not None:
        part = search_log(workspace, finished, "talk", "line 1999", after=after)
        seen += texts(part)
        after, pieces = part.next, pieces + 1
    assert pieces == 4  # ~2.5 MB in 1 MiB blocks
    assert seen == texts(first) + texts(rest)


# (arguments, error, message): each checked on one run (a run per case costs ~10 s)
BAD: list[tuple[dict[str, object], type[Exception], str]] = [
    ({"query": ""}, LogSearchError, "the text to find is empty; pass q=<text>"),
    ({"query": "  "}, LogSearchError, "the text to find is empty"),
    ({"query": "a\nb"}, LogSearchError, "must be one line of at most 200"),
    ({"query": "x" * 201}, LogSearchError, r"\(got 201 characters\)"),
    ({"limit": 0}, LogSearchError, "limit 0 is out of range; pass 1 to 1000"),
    ({"limit": 1001}, LogSearchError, "limit 1001 is out of range"),
    ({"after": -1}, LogOffsetError, "after=-1 is not a byte position"),
    ({"stream": "stdin"}, LogStreamError, "log stream 'stdin' of step 'talk'"),
    ({"step": "nope"}, StepNotFoundError, "has no step 'nope'; its steps are talk"),
]


def test_bad_searches_are_refused(workspace: Workspace, finished: str) -> None:
    for kwargs, error, match in BAD:
        args: dict[str, object] = {"query": "line", **kwargs}
        step, query = str(args.pop("step", "talk")), str(args.pop("query"))
        with pytest.raises(error, match=match):
            search_log(workspace, finished, step, query, **args)  # type: ignore[arg-type]


def test_the_search_route(workspace: Workspace, finished: str) -> None:
    for url in start_server(workspace, "127.0.0.1"):
        base = f"{url}/api/runs/{finished}/steps/talk/log/search"
        got = requests.get(base, params={"q": "line 19999", "limit": 5}, timeout=60)
        body = got.json()
        assert [m["text"] for m in body["matches"]] == [
            "line 19999 é",
            *(f"line 19999{i} é" for i in range(4)),
        ]
        assert body["next"] == body["matches"][-1]["end"]
        bad = lambda **q: requests.get(base, params=q, timeout=60)  # noqa: B023, E731
        refused(bad(q=""), 400, "UserError", "the text to find is empty")
        refused(bad(q="x", limit="ten"), 400, "UserError", "limit='ten' is not a whole")
        refused(bad(q="x", after="-5"), 400, "UserError", "after=-5 is out of range")
        refused(bad(q="x", stream="err"), 400, "UserError", "log stream 'err'")
        gone = requests.get(
            f"{url}/api/runs/nope/steps/talk/log/search?q=x", timeout=60
        )
        refused(gone, 404, "NotFound", "no run with id 'nope'")
