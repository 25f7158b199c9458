"""``dataferry serve`` attacked over real HTTP: every bad request is a typed 4xx in
the SDK's error shape (``{"error": {"code", "message"}}``), never a 500 or a
traceback, and a refused submit records no run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import requests
from cli.test_serve import start_server
from execution.test_published import echo_pipeline

from dataferry import InteractiveLoginAuthentication, Workspace
from dataferry.execution.experiment import Experiment

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.server, pytest.mark.slow]

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def served(
    workspace: Workspace, tmp_path: Path
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(server URL, submit endpoint, bearer header) of a published echo pipeline."""
    published = echo_pipeline(workspace, tmp_path).publish("echo")
    auth = InteractiveLoginAuthentication()
    auth._bind(workspace)
    for url in start_server(workspace, "127.0.0.1"):
        yield url, published.endpoint, auth.get_authentication_header()


def refused(response: requests.Response, status: int, code: str, match: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert match in error["message"], error["message"]
    assert "Traceback" not in response.text


BODIES: list[tuple[bytes, int, str, str]] = [
    (b"{bad", 400, "UserError", "the request body is not JSON (JSONDecodeError)"),
    (b"\xff\xfe", 400, "UserError", "the request body is not JSON"),
    (b"[" * 50_000 + b"]" * 50_000, 400, "UserError", "(RecursionError)"),
    (b"[1]", 400, "UserError", "the request body is a JSON list, not an object"),
    (b'{"ExperimentName": null}', 400, "UserError", "the body has no ExperimentName"),
    (b'{"ExperimentName": "../../etc"}', 400, "UserError", "invalid experiment name"),
    ('{"ExperimentName": "é x"}'.encode(), 400, "UserError", "invalid experiment"),
]


def assign(**sections: Any) -> bytes:
    return json.dumps({"ExperimentName": "e", **sections}).encode()


ASSIGNMENTS: list[tuple[bytes, str]] = [
    (assign(ParameterAssignments=[1]), "ParameterAssignments must be an object"),
    (
        assign(ParameterAssignments={"count": {"a": 1}}),
        "pipeline parameter 'count' has an int default (3)",
    ),
    (
        assign(
            DataPathAssignments={
                "count": {"DataStoreName": "nope", "RelativePath": "x"}
            }
        ),
        "no datastore named 'nope' in this workspace",
    ),
    (
        assign(DataPathAssignments={"count": {"DataStoreName": "workspaceblobstore"}}),
        "DataPathAssignments.count needs a non-empty string 'RelativePath'",
    ),
    (
        assign(
            DataSetDefinitionValueAssignments={
                "count": {"SavedDataSetReference": {"Id": "nope"}}
            }
        ),
        'Cannot find dataset with id "nope"',
    ),
    (
        assign(DataSetDefinitionValueAssignments={"count": {"DataSetReference": [1]}}),
        "DataSetDefinitionValueAssignments.count needs a non-empty string 'Name'",
    ),
    (assign(Tags=[1]), "tags must be a dict of str to str, not list"),
    (assign(Tags={"a": {"b": 1}}), "tag 'a' has a dict value"),
    (assign(ContinueRunOnStepFailure="yes"), "continue_on_step_failure must be a bool"),
    (assign(Description=["a"]), "submit(): description must be a str, not list"),
]


def test_bad_bodies_are_400s_and_record_nothing(
    workspace: Workspace, served: tuple[str, str, dict[str, str]]
) -> None:
    _, endpoint, header = served
    for body, status, code, match in BODIES:
        response = requests.post(
            endpoint, headers={**header, **JSON}, data=body, timeout=30
        )
        refused(response, status, code, match)
    for body, match in ASSIGNMENTS:
        response = requests.post(
            endpoint, headers={**header, **JSON}, data=body, timeout=30
        )
        refused(response, 400, "UserError", match)
    assert list(Experiment(workspace, "e").get_runs()) == []


def test_wrong_media_type_and_huge_body(
    workspace: Workspace, served: tuple[str, str, dict[str, str]]
) -> None:
    _, endpoint, header = served
    body = b'{"ExperimentName": "e"}'
    for media in ("text/plain", "application/x-www-form-urlencoded"):
        response = requests.post(
            endpoint, headers={**header, "Content-Type": media}, data=body, timeout=30
        )
        refused(response, 415, "UnsupportedMediaType", f"Content-Type {media!r}")
    huge = b'{"ExperimentName": "e", "x": "' + b"a" * 2_000_000 + b'"}'
    response = requests.post(
        endpoint, headers={**header, **JSON}, data=huge, timeout=30
    )
    refused(response, 413, "RequestTooLarge", "over 1048576 bytes")
    assert list(Experiment(workspace, "e").get_runs()) == []


def test_tokens_in_wrong_forms_are_401s(
    tmp_path: Path, served: tuple[str, str, dict[str, str]]
) -> None:
    _, endpoint, header = served
    token = header["Authorization"].split(" ", 1)[1]
    other = Workspace.create("other-ws", tmp_path / "other", show_output=False)
    auth = InteractiveLoginAuthentication()
    auth._bind(other)
    for value in (
        token,
        f"Basic {token}",
        "Bearer é",
        auth.get_authentication_header()["Authorization"],
    ):
        response = requests.post(
            endpoint,
            headers={"Authorization": value.encode(), **JSON},
            json={"ExperimentName": "e"},
            timeout=30,
        )
        refused(response, 401, "Unauthorized", "missing or wrong bearer token")
    other.close()


@pytest.mark.parametrize(
    ("path", "headers", "status", "match"),
    [
        (
            "/api/runs?limit=abc",
            {},
            400,
            "limit='abc' is not a whole number; pass one such as 1.",
        ),
        ("/api/runs?limit=-5", {}, 400, "limit=-5 is out of range; pass 1 to 10000"),
        ("/api/events?after=99999999999999999999999", {}, 400, "is not a whole number"),
        ("/api/events?after=-5", {}, 400, "after=-5 is out of range"),
        ("/api/stream", {"Last-Event-ID": "1.5"}, 400, "Last-Event-ID='1.5' is not"),
        ("/api/stream", {"Last-Event-ID": "9" * 30}, 400, "is not a whole number"),
        (
            "/api/stream",
            {"Last-Event-ID": "-1"},
            400,
            "Last-Event-ID=-1 is out of range",
        ),
        ("/api/runs/x/steps/a/log?offset=1e9", {}, 400, "offset='1e9' is not a whole"),
        ("/api/runs/..%2F..%2Fetc", {}, 404, "Not Found"),
        ("/api/runs/%C3%A9", {}, 404, "no run with id 'é'"),
        ("/ui/..%2Fserve_app.py", {}, 404, "Not Found"),
        ("/ui/..%5Cx.js", {}, 404, "no page file"),
        ("/ui/%C3%A9.js", {}, 404, "no page file 'é.js'"),
    ],
)
def test_bad_reads_are_typed_4xx(
    served: tuple[str, str, dict[str, str]],
    path: str,
    headers: dict[str, str],
    status: int,
    match: str,
) -> None:
    url = served[0]
    response = requests.get(f"{url}{path}", headers=headers, timeout=10)
    refused(response, status, "UserError" if status == 400 else "NotFound", match)


def test_wrong_method_is_a_json_405(served: tuple[str, str, dict[str, str]]) -> None:
    _, endpoint, header = served
    response = requests.get(endpoint, headers=header, timeout=10)
    refused(response, 405, "MethodNotAllowed", "Method Not Allowed")


UNKNOWN_NAMES: list[tuple[dict[str, Any], str]] = [
    # the name is checked before its datastore or dataset is looked up
    (
        {
            "DataPathAssignments": {
                "nope": {"DataStoreName": "gone", "RelativePath": "x"}
            }
        },
        "Pipeline parameter with name nope does not exist",
    ),
    (
        {"DataSetDefinitionValueAssignments": {"ghost": {"DataSetReference": {}}}},
        "Pipeline parameter with name ghost does not exist",
    ),
    (
        {
            "DataSetDefinitionValueAssignments": {
                "other": {"SavedDataSetReference": {"Id": "gone"}}
            }
        },
        "Pipeline parameter with name other does not exist",
    ),
]


def test_an_unknown_assigned_name_is_named_whatever_its_section(
    workspace: Workspace, served: tuple[str, str, dict[str, str]]
) -> None:
    _, endpoint, header = served
    for sections, match in UNKNOWN_NAMES:
        response = requests.post(
            endpoint,
            headers=header,
            json={"ExperimentName": "e", **sections},
            timeout=30,
        )
        refused(response, 400, "UserError", match)
        assert "(parameters: ['count', 'label'])" in response.json()["error"]["message"]
    assert list(Experiment(workspace, "e").get_runs()) == []


def test_an_endpoint_is_checked_before_the_body_it_is_sent(
    workspace: Workspace, tmp_path: Path, served: tuple[str, str, dict[str, str]]
) -> None:
    from dataferry.execution.pipeline_endpoint import PipelineEndpoint

    header = served[2]
    endpoint = PipelineEndpoint.publish(
        workspace, "ep", "d", echo_pipeline(workspace, tmp_path).publish("a")
    )
    bad = {
        "ExperimentName": "e",
        "DataSetDefinitionValueAssignments": {
            "count": {"SavedDataSetReference": {"Id": "gone"}}
        },
    }
    missing = endpoint.endpoint.replace(endpoint.id, "nope")
    response = requests.post(missing, headers=header, json=bad, timeout=30)
    refused(response, 404, "NotFound", "nope")
    for version, match in (
        (True, "PipelineVersion must be a string"),
        ("9", "no version '9'"),
    ):
        body = {**bad, "PipelineVersion": version}
        response = requests.post(
            endpoint.endpoint, headers=header, json=body, timeout=30
        )
        refused(response, 400, "UserError", match)
    unknown = {"ExperimentName": "e", "DataPathAssignments": {"x": {}}}
    response = requests.post(
        endpoint.endpoint, headers=header, json=unknown, timeout=30
    )
    refused(response, 400, "UserError", "Pipeline parameter with name x does not exist")
    response = requests.post(
        endpoint.endpoint,
        headers=header,
        json={"ExperimentName": "e", "ContinueRunOnStepFailure": "yes"},
        timeout=30,
    )
    refused(response, 400, "UserError", "continue_on_step_failure must be a bool")
    endpoint.disable()
    response = requests.post(endpoint.endpoint, headers=header, json=bad, timeout=30)
    refused(response, 400, "UserError", "Status must be Active, its Disabled")
    assert list(Experiment(workspace, "e").get_runs()) == []


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ({}, "the body has no ExperimentName; send"),
        ({"experimentName": "e"}, "the body has no ExperimentName; send"),
        ({"ExperimentName": 5}, "ExperimentName must be a string, not int"),
    ],
)
def test_a_missing_experiment_name_says_so(
    served: tuple[str, str, dict[str, str]], body: dict[str, Any], match: str
) -> None:
    _, endpoint, header = served
    response = requests.post(endpoint, headers=header, json=body, timeout=30)
    refused(response, 400, "UserError", match)


@pytest.mark.parametrize("run", ["nope", "..%2F..%2Fetc", "%C3%A9"])
def test_a_stream_of_an_unknown_run_is_a_404(
    served: tuple[str, str, dict[str, str]], run: str
) -> None:
    response = requests.get(f"{served[0]}/api/stream?run={run}", timeout=10)
    refused(response, 404, "NotFound", "no run with id")
