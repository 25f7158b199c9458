"""The page's routes of ``dataferry serve`` over real HTTP: the SSE feed resumed by
``Last-Event-ID``, a step's log by byte range and its download, and the refusals."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
import requests
from cli.page_kit import talk_and_wait
from cli.test_serve import start_server

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from dataferry import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]
LINES = 3000


@pytest.fixture
def finished(workspace: Workspace, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(server url, id of a finished run of talk_and_wait)."""
    flag = tmp_path / "go"
    flag.touch()
    run = talk_and_wait(workspace, tmp_path, lines=LINES, flag=flag).submit("pages")
    run.wait_for_completion(show_output=False, timeout_seconds=120)
    assert run.get_status() == "Finished"
    for url in start_server(workspace, "127.0.0.1"):
        yield url, run.id


def sse_ids(url: str, headers: dict[str, str]) -> list[int]:
    """The ids of the events the stream sends until it is idle for 2 s."""
    ids: list[int] = []
    with requests.get(url, headers=headers, stream=True, timeout=(10, 2)) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        try:
            for line in r.iter_lines(decode_unicode=True):
                if line.startswith("id: "):
                    ids.append(int(line[4:]))
                elif line.startswith("data: "):
                    assert json.loads(line[6:])["id"] == ids[-1]
        except requests.ConnectionError:  # the read timeout: no more events
            pass
    return ids


def test_the_stream_resumes_after_the_last_event_id(
    finished: tuple[str, str],
) -> None:
    url, run_id = finished
    every = [e["id"] for e in requests.get(f"{url}/api/events?after=0").json()]
    assert len(every) > 4

    assert sse_ids(f"{url}/api/stream", {}) == every
    assert sse_ids(f"{url}/api/stream", {"Last-Event-ID": str(every[3])}) == every[4:]
    assert sse_ids(f"{url}/api/stream?after={every[-2]}", {}) == every[-1:]
    assert sse_ids(f"{url}/api/stream?run={run_id}&after={every[-1]}", {}) == []
    assert requests.get(f"{url}/api/stream?run=other", timeout=10).status_code == 404


def test_a_bad_cursor_is_a_400_naming_it(finished: tuple[str, str]) -> None:
    url, _ = finished
    for header in ("x", "-1"):
        r = requests.get(f"{url}/api/stream", headers={"Last-Event-ID": header})
        assert r.status_code == 400
        assert "Last-Event-ID" in r.json()["error"]["message"]


def test_a_log_is_read_by_range_in_whole_lines(finished: tuple[str, str]) -> None:
    url, run_id = finished
    log = f"{url}/api/runs/{run_id}/steps/talk/log"
    whole = requests.get(f"{log}/download").content.decode()
    assert whole.splitlines() == [f"line {i} é" for i in range(LINES)]

    first = requests.get(f"{log}?offset=0&length=100").json()
    assert first["text"] == "".join(f"line {i} é\n" for i in range(10))
    assert (first["offset"], first["end"], first["more"], first["final"]) == (
        0,
        len(first["text"].encode()),
        True,
        True,
    )
    assert first["size"] == len(whole.encode())
    pieces, offset, more = [], 0, True
    while more:
        page = requests.get(f"{log}?offset={offset}&length=4096").json()
        pieces.append(page["text"])
        offset, more = page["end"], page["more"]
    assert "".join(pieces) == whole
    last = f"line {LINES - 1} é\n"
    tail = requests.get(f"{log}?offset={first['size'] - len(last.encode())}").json()
    assert (tail["text"], tail["more"]) == (last, False)
    assert requests.get(f"{log}?stream=stderr").json()["text"] == ""


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("offset=-1", 400, "offset -1 is not a byte position"),
        ("offset=x", 400, "offset='x' is not a whole number"),
        ("length=2", 400, "length 2 is out of range; pass 4 to 4194304"),
        ("length=99999999", 400, "length 99999999 is out of range"),
        ("stream=stdlog", 400, "log stream 'stdlog' of step 'talk' does not exist"),
    ],
)
def test_a_bad_log_range_is_refused(
    finished: tuple[str, str], query: str, status: int, message: str
) -> None:
    url, run_id = finished
    r = requests.get(f"{url}/api/runs/{run_id}/steps/talk/log?{query}")
    assert r.status_code == status
    assert message in r.json()["error"]["message"]


def test_unknown_step_and_run_are_404s(finished: tuple[str, str]) -> None:
    url, run_id = finished
    r = requests.get(f"{url}/api/runs/{run_id}/steps/tlak/log")
    assert r.status_code == 404
    assert (
        "has no step 'tlak'; its steps are talk, wait" in r.json()["error"]["message"]
    )
    assert requests.get(f"{url}/api/runs/nope/graph").status_code == 404
    assert requests.get(f"{url}/ui/../serve_app.py").status_code == 404


def test_the_graph_has_the_data_between_the_steps(finished: tuple[str, str]) -> None:
    url, run_id = finished
    graph = requests.get(f"{url}/api/runs/{run_id}/graph").json()
    assert [(s["name"], s["status"]) for s in graph["steps"]] == [
        ("talk", "Finished"),
        ("wait", "Finished"),
    ]
    assert [d["label"] for d in graph["data"] if d["kind"] == "output"] == ["made"]
    page = requests.get(f"{url}/")
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/ui/app.js">' in page.text
