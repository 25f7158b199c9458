"""``dataferry serve`` through real HTTP: a subprocess on a free loopback port, a
published pipeline triggered as the v1 samples do, and who may call."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest
import requests
from execution.test_published import echo_pipeline

from dataferry import InteractiveLoginAuthentication, Workspace
from dataferry.execution import views
from dataferry.execution.experiment import Experiment
from dataferry.execution.pipeline_run import PipelineRun

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [pytest.mark.server, pytest.mark.slow]


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_server(workspace: Workspace, host: str, *extra: str) -> Iterator[str]:
    port = free_port(host)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dataferry.cli",
            "-w",
            str(workspace.path.parent),
            "serve",
            "--host",
            host,
            "--port",
            str(port),
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://{host}:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{url}/api/health", timeout=2)
            break
        except (
            requests.ConnectionError,
            requests.Timeout,
        ):  # not up, or slow to answer its first request
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read() if proc.stdout else b""
                proc.kill()
                proc.wait()
                if proc.stdout:
                    proc.stdout.close()
                pytest.fail(f"dataferry serve did not start: {out.decode()}")
            time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()


@pytest.fixture
def server(workspace: Workspace) -> Iterator[str]:
    yield from start_server(workspace, "127.0.0.1")


def test_a_rest_post_starts_a_run_with_its_parameters(
    workspace: Workspace, tmp_path: Path, server: str
) -> None:
    published = echo_pipeline(workspace, tmp_path).publish("echo")
    auth = InteractiveLoginAuthentication()
    auth._bind(workspace)
    assert published.endpoint.startswith(server)

    response = requests.post(
        published.endpoint,
        headers=auth.get_authentication_header(),
        json={
            "ExperimentName": "rest",
            "ParameterAssignments": {"count": "9", "label": "x"},
            "Description": "nightly retrain",
        },
        timeout=60,
    )

    assert response.status_code == 200, response.text
    run_id = response.json()["Id"]
    run = PipelineRun(Experiment(workspace, "rest"), run_id)
    run.wait_for_completion(show_output=False)
    assert run.get_status() == "Finished"
    assert json.loads((tmp_path / "out.json").read_text()) == ["9", "x"]
    detail = requests.get(f"{server}/api/runs/{run_id}", timeout=10).json()
    assert detail["status"] == "Finished"
    assert detail["description"] == "nightly retrain"
    assert [r["id"] for r in requests.get(f"{server}/api/runs", timeout=10).json()] == [
        run_id
    ]
    events = requests.get(f"{server}/api/events?after=0", timeout=10).json()
    assert {e["run_id"] for e in events} == {run_id}
    last = events[-1]["id"]
    assert requests.get(f"{server}/api/events?after={last}", timeout=10).json() == []


def test_refusals_unknown_parameter_disabled_and_token(
    workspace: Workspace, tmp_path: Path, server: str
) -> None:
    published = echo_pipeline(workspace, tmp_path).publish("echo")
    auth = InteractiveLoginAuthentication()
    auth._bind(workspace)
    header = auth.get_authentication_header()
    body = {"ExperimentName": "rest"}

    unknown = requests.post(
        published.endpoint,
        headers=header,
        json={**body, "ParameterAssignments": {"nope": "1"}},
        timeout=30,
    )
    assert unknown.status_code == 400
    assert (
        "Pipeline parameter with name nope does not exist"
        in unknown.json()["error"]["message"]
    )
    for bad in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        refused = requests.post(published.endpoint, headers=bad, json=body, timeout=30)
        assert refused.status_code == 401
    published.disable()
    disabled = requests.post(published.endpoint, headers=header, json=body, timeout=30)
    assert disabled.status_code == 400
    assert "Status must be Active, its Disabled" in disabled.json()["error"]["message"]
    missing = requests.post(
        published.endpoint.replace(published.id, "nope"),
        headers=header,
        json=body,
        timeout=30,
    )
    assert missing.status_code == 404
    assert list(Experiment(workspace, "rest").get_runs()) == []


def test_off_the_default_address_every_route_needs_the_token(
    workspace: Workspace,
) -> None:
    auth = InteractiveLoginAuthentication()
    auth._bind(workspace)
    for url in start_server(workspace, "127.0.0.2"):
        assert requests.get(f"{url}/api/health", timeout=10).status_code == 401
        assert requests.get(f"{url}/api/runs", timeout=10).status_code == 401
        ok = requests.get(
            f"{url}/api/runs", headers=auth.get_authentication_header(), timeout=10
        )
        assert (ok.status_code, ok.json()) == (200, [])


def test_a_rest_post_to_a_pipeline_endpoint_runs_the_chosen_version(
    workspace: Workspace, tmp_path: Path, server: str
) -> None:
    from dataferry.execution.pipeline_endpoint import PipelineEndpoint

    pipeline = echo_pipeline(workspace, tmp_path)
    endpoint = PipelineEndpoint.publish(workspace, "ep", "d", pipeline.publish("a"))
    endpoint.add(pipeline.publish("b"))
    auth = InteractiveLoginAuthentication()
    auth._bind(workspace)
    header = auth.get_authentication_header()
    assert endpoint.endpoint.startswith(server)

    for version, label in ((None, "default"), ("1", "one")):
        body = {
            "ExperimentName": "rest",
            "RunSource": "API",
            "ParameterAssignments": {"label": label},
            "ContinueRunOnStepFailure": version is None,
        }
        if version is not None:
            body["PipelineVersion"] = version
        response = requests.post(
            endpoint.endpoint, headers=header, json=body, timeout=60
        )
        assert response.status_code == 200, response.text
        run = PipelineRun(Experiment(workspace, "rest"), response.json()["Id"])
        run.wait_for_completion(show_output=False)
        assert json.loads((tmp_path / "out.json").read_text()) == ["3", label]
        options = views.run_detail(workspace, run.id).options
        assert options["continue_on_step_failure"] is (version is None)

    body = {"ExperimentName": "rest", "PipelineVersion": "9"}
    unknown = requests.post(endpoint.endpoint, headers=header, json=body, timeout=30)
    assert unknown.status_code == 400
    assert "has no version '9'" in unknown.json()["error"]["message"]
    assert requests.post(endpoint.endpoint, json=body, timeout=30).status_code == 401
    endpoint.disable()
    body = {"ExperimentName": "rest"}
    disabled = requests.post(endpoint.endpoint, headers=header, json=body, timeout=30)
    assert disabled.status_code == 400
    assert "Status must be Active, its Disabled" in disabled.json()["error"]["message"]
    missing_url = endpoint.endpoint.replace(endpoint.id, "nope")
    missing = requests.post(missing_url, headers=header, json=body, timeout=30)
    assert missing.status_code == 404
