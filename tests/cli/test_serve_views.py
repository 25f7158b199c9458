"""The page's run views over real HTTP (timeline, compare, runs search, where the
feed is at) and signing in off loopback: the cookie every route accepts beside the
bearer header. 127.0.0.2 is loopback, but not the default address: serve asks for
the token there, as on any other."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import requests
from cli.compare_kit import two_runs
from cli.test_serve import start_server

from dataferry.data.authentication import workspace_token

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]
COOKIE = "dataferry_token"


def test_timeline_compare_and_search_routes(
    workspace: Workspace, tmp_path: Path
) -> None:
    first, second = two_runs(workspace, tmp_path)
    for url in start_server(workspace, "127.0.0.1"):
        c = requests.get(
            f"{url}/api/compare", params={"left": first.id, "right": second.id}
        ).json()
        assert [(s["name"], s["change"]) for s in c["steps"]] == [
            ("keep", "same"),
            ("score", "changed"),
            ("extra", "added"),
        ]
        assert c["parameters"] == [{"key": "factor", "left": 1, "right": 2}]
        assert c["inputs"] == [
            {"key": "score/nums", "left": "nums:1", "right": "nums:2"}
        ]
        assert [f["path"] for f in c["files"]] == ["helper.py", "score.py"]
        # the graph diff: steps and data by name, the input read at another version
        g = c["graph"]
        marks = {n["key"]: n["change"] for n in [*g["steps"], *g["data"]]}
        assert marks == {
            "step:keep": "same",
            "step:score": "changed",
            "step:extra": "added",
            "external:score/nums": "changed",
        }
        [nums] = g["data"]
        assert nums["reasons"] == ["score read nums:2 (was nums:1)"]
        assert g["edges"] == [["external:score/nums", "step:score"]]

        t = requests.get(f"{url}/api/runs/{second.id}/timeline").json()
        assert {s["name"]: s["reused"] for s in t["steps"]} == {
            "keep": True,
            "score": False,
            "extra": False,
        }
        newest = requests.get(f"{url}/api/events/newest").json()["id"]
        assert t["last_event_id"] == newest > 0

        found = requests.get(f"{url}/api/runs", params={"q": second.id}).json()
        assert [r["id"] for r in found] == [second.id]
        both = requests.get(f"{url}/api/runs?status=Finished&q=cmp").json()
        assert [r["id"] for r in both] == [second.id, first.id]

        for path, status, match in [
            (f"/api/compare?left={first.id}", 400, "compare needs two runs"),
            (f"/api/compare?left={first.id}&right=nope", 404, "nope"),
            ("/api/runs/nope/timeline", 404, "nope"),
            ("/api/runs?status=Done", 400, "status 'Done' is no run status"),
            ("/api/runs?q=" + "x" * 201, 400, "the search text is 201 characters"),
        ]:
            r = requests.get(f"{url}{path}")
            assert r.status_code == status, r.text
            assert match in r.json()["error"]["message"]


def test_signing_in_sets_a_strict_httponly_cookie_every_route_accepts(
    workspace: Workspace,
) -> None:
    token = workspace_token(workspace)
    for url in start_server(workspace, "127.0.0.2"):
        bare = requests.get(f"{url}/", timeout=10)
        assert bare.status_code == 401
        assert 'form method="post" action="/login"' in bare.text
        wrong = requests.get(f"{url}/?token=nope", allow_redirects=False, timeout=10)
        assert wrong.status_code == 401
        assert "wrong token" in wrong.text

        signed = requests.get(f"{url}/?token={token}", allow_redirects=False)
        assert (signed.status_code, signed.headers["location"]) == (303, "/")
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}={token};")
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        jar = {COOKIE: token}
        assert requests.get(f"{url}/", cookies=jar).status_code == 200
        assert requests.get(f"{url}/api/runs", cookies=jar).json() == []
        assert requests.get(f"{url}/ui/app.js", cookies=jar).status_code == 200
        with requests.get(f"{url}/api/stream", cookies=jar, stream=True) as feed:
            assert feed.status_code == 200
            assert feed.headers["content-type"].startswith("text/event-stream")

        posted = requests.post(
            f"{url}/login", data={"token": token}, allow_redirects=False
        )
        assert posted.status_code == 303
        assert posted.cookies[COOKIE] == token
        refused = requests.post(f"{url}/login", data={"token": "x"})
        assert refused.status_code == 401
        assert "wrong token" in refused.text
        huge = requests.post(f"{url}/login", data={"token": "x" * 5000})
        assert huge.status_code == 413
        assert "the sign-in form is over 4096 bytes" in huge.text

        for jar in ({COOKIE: "wrong"}, {COOKIE: ""}):
            r = requests.get(f"{url}/api/runs", cookies=jar)
            assert r.status_code == 401
            assert "missing or wrong bearer token" in r.json()["error"]["message"]
        # a right header does not hide a wrong cookie
        header = {"Authorization": f"Bearer {token}"}
        assert requests.get(f"{url}/api/runs", headers=header).status_code == 200
        r = requests.get(f"{url}/api/runs", headers=header, cookies={COOKIE: "x"})
        assert r.status_code == 401


def test_a_wrong_cookie_is_refused_on_loopback_too(workspace: Workspace) -> None:
    for url in start_server(workspace, "127.0.0.1"):
        assert requests.get(f"{url}/api/runs").status_code == 200
        r = requests.get(f"{url}/api/runs", cookies={COOKIE: "stale"})
        assert r.status_code == 401
        assert requests.get(f"{url}/", cookies={COOKIE: "stale"}).status_code == 401
