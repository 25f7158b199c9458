"""Two workspace folders on two paths (standing in for two machines) share one
PostgreSQL catalog and one blob datastore on Azurite, registered as the default. Each
submits, watches, resumes, reruns and gcs the other's runs, and reads the other's
datasets and logs: snapshots and logs reach the other folder through the datastore."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner
from pipeline.kit import is_alive, wait_gone, write_script
from servers.azurite import ACCOUNT, KEY

from dataferry import (
    Dataset,
    Datastore,
    Experiment,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
    Workspace,
)
from dataferry.cli import app
from dataferry.execution import views
from dataferry.execution.lifecycle import gc
from dataferry.execution.pipeline_run import PipelineRun
from dataferry.execution.published import PublishedPipeline
from dataferry.execution.resume import resume_run

if TYPE_CHECKING:
    from collections.abc import Iterator

    from servers.azurite import Azurite
    from servers.postgres import Postgres

pytestmark = [pytest.mark.server, pytest.mark.slow]

KEY_ENV = "DATAFERRY_TWO_FOLDERS_KEY"  # each machine supplies the key itself
WAIT_S = 60.0

MAKE = """
import pathlib, sys
out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
(out / "n.txt").write_text("42\\n")
print("made 42")
"""
USE = """
import pathlib, sys
n = (pathlib.Path(sys.argv[1]) / "n.txt").read_text().strip()
out = pathlib.Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
(out / "copy.txt").write_text(n)
print("got", n)
"""
HOLD = """
import json, os, pathlib, sys, time
marker, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
if not go.exists():
    marker.write_text(json.dumps({"pid": os.getpid()}))
    while not go.exists():
        time.sleep(0.05)
print("held until go")
"""


class Pair:
    """The two folders, the shared datastore's name and a scratch folder."""

    def __init__(self, a: Workspace, b: Workspace, tmp: Path) -> None:
        self.a, self.b, self.tmp = a, b, tmp


@pytest.fixture
def pair(
    postgres: Postgres,
    azurite: Azurite,
    blob_container: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Pair]:
    monkeypatch.setenv(KEY_ENV, KEY)
    url = postgres.create_database(template="migrated")
    a = Workspace.create(
        "team", tmp_path / "m1" / "p", catalog_url=url, show_output=False
    )
    b = Workspace.create(
        "team", tmp_path / "m2" / "q", catalog_url=url, show_output=False
    )
    Datastore.register_azure_blob_container(
        a,
        "team_blob",
        blob_container,
        ACCOUNT,
        account_key_env=KEY_ENV,
        protocol="http",
        endpoint=f"127.0.0.1:{azurite.port}",
        create_if_not_exists=True,
    )
    a.set_default_datastore("team_blob")
    yield Pair(a, b, tmp_path)
    a.close()
    b.close()


def _finish(ws: Workspace, run_id: str) -> views.RunDetail:
    """Watch a run from ``ws`` until it ends."""
    detail: views.RunDetail = views.wait_until(
        lambda: views.run_detail(ws, run_id),
        lambda d: d.is_terminal,
        poll_s=0.05,
        timeout_s=WAIT_S,
    )
    return detail


def _stdout(ws: Workspace, run_id: str, name: str) -> str:
    (found,) = [s for s in views.run_detail(ws, run_id).steps if s.name == name]
    return views.read_whole_log(dict(found.log_files())["stdout"])


def _chain(ws: Workspace, tmp: Path) -> Pipeline:
    made = OutputFileDatasetConfig("made").as_upload().register_on_complete("made")
    copy = OutputFileDatasetConfig("copy").as_upload()
    code = tmp / "code"
    write_script(code, "make.py", MAKE)
    write_script(code, "use.py", USE)
    make = PythonScriptStep(
        "make.py", name="make", source_directory=str(code), arguments=[made]
    )
    use = PythonScriptStep(
        "use.py",
        name="use",
        source_directory=str(code),
        arguments=[made.as_input("made"), copy],
    )
    return Pipeline(ws, steps=[make, use])


def _logs_cli(ws: Workspace, run_id: str) -> list[str]:
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["-w", str(ws.path.parent), "runs", "logs", run_id], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return [line for line in result.output.splitlines() if line.startswith("[")]


def test_two_folders_share_runs_datasets_and_logs(pair: Pair) -> None:
    a, b = pair.a, pair.b
    # a submits; b watches it and reads its logs, through the API and the CLI
    run = Experiment(a, "e").submit(_chain(a, pair.tmp / "a"))
    assert _finish(b, run.id).status == "Finished"
    assert _stdout(b, run.id, "use") == "got 42\n"
    assert _logs_cli(b, run.id) == ["[make] made 42", "[use] got 42"]
    assert "Finished" in views.read_whole_log(views.run_detail(b, run.id).driver_log)
    # b reads the dataset a's run registered
    made = Dataset.get_by_name(b, "made")
    (path,) = made.download(str(pair.tmp / "b-made"))
    assert Path(path).read_text() == "42\n"

    # b reruns a's run from `use` (the snapshot comes from the datastore); a watches
    rerun = PipelineRun(Experiment(b, "e"), run.id).rerun("use")
    assert not (b.path / "runs" / run.id).exists()
    assert _finish(a, rerun.id).status == "Finished"
    assert _stdout(a, rerun.id, "use") == "got 42\n"
    steps = {s.name: s for s in views.run_detail(a, rerun.id).steps}
    assert steps["make"].reused_from is not None
    assert (
        steps["use"].log_dir == a.path / "cache" / "logs" / rerun.id / steps["use"].id
    )

    # b registers a dataset on the shared store; a reads it
    store = Datastore.get(b, "team_blob")
    (pair.tmp / "up").mkdir()
    (pair.tmp / "up" / "t.csv").write_text("x\n7\n8\n")
    store.upload(str(pair.tmp / "up"), "tables", show_progress=False)
    Dataset.Tabular.from_delimited_files((store, "tables/t.csv")).register(b, "t")
    assert Dataset.get_by_name(a, "t").to_pandas_dataframe().to_dict("list") == {
        "x": [7, 8]
    }

    # gc from a deletes b's rerun's output and a's own: both intermediate
    report = gc(a, older_than="0s")
    copies = sorted(i.step_run_id for i in report.items)
    assert copies == sorted([steps["use"].id, _step_id(b, run.id, "use")])
    location = Datastore.get(b, "team_blob").location
    assert not any(location.exists(i.path) for i in report.items)
    assert Dataset.get_by_name(b, "made").download(
        str(pair.tmp / "again"), overwrite=True
    )


def test_a_pipeline_published_in_one_folder_is_submitted_from_the_other(
    pair: Pair,
) -> None:
    a, b = pair.a, pair.b
    published = _chain(a, pair.tmp / "a").publish("chain")

    run = PublishedPipeline.get(b, published.id).submit(b, "pub")

    assert _finish(a, run.id).status == "Finished"
    assert _stdout(a, run.id, "use") == "got 42\n"
    assert (b.path / "snapshots").is_dir()  # fetched from the blob datastore
    assert gc(b, older_than="0s").shared == []  # the published pipeline keeps them


def _step_id(ws: Workspace, run_id: str, name: str) -> str:
    (found,) = [s for s in views.run_detail(ws, run_id).steps if s.name == name]
    return found.id


def test_a_run_of_one_folder_resumes_in_the_other(pair: Pair) -> None:
    a, b = pair.a, pair.b
    marker, go = pair.tmp / "ready.json", pair.tmp / "go"
    code = write_script(pair.tmp / "hold", "hold.py", HOLD)
    hold = PythonScriptStep(
        "hold.py",
        name="hold",
        source_directory=str(code),
        arguments=[str(marker), str(go)],
    )
    run = Experiment(a, "e").submit(Pipeline(a, steps=[hold]))
    ready = _wait_for(marker)
    driver = views.run_detail(a, run.id).driver_pid
    assert driver is not None
    for pid in (driver, ready["pid"]):  # a's machine goes away
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid)
    go.touch()

    resume_run(b, run.id)  # b takes the run over, fetching its snapshot
    assert _finish(a, run.id).status == "Finished"
    assert (b.path / "snapshots").is_dir()
    assert _stdout(a, run.id, "hold") == "held until go\n"
    assert "Finished" in views.read_whole_log(views.run_detail(a, run.id).driver_log)


def _wait_for(marker: Path) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while not marker.exists():
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.05)
    time.sleep(0.05)  # the step writes the marker whole before it waits
    found: dict[str, Any] = json.loads(marker.read_text())
    assert is_alive(found["pid"])
    return found
