"""Reuse, gc, retention, ``delete_intermediate_outputs`` and resume on a blob datastore.

The datastore is an Azure Blob container on the session's Azurite. Reuse is decided from
the blobs' etags (nothing is downloaded to decide it); deleting intermediate data and
cleaning a crashed commit's staging act on the container itself.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

import pytest
from execution.blob_kit import blobs, put, register_blob
from pipeline.kit import WAIT_S, ScriptedDriver, run_pipeline, step, write_script
from sqlalchemy import select

from dataferry import (
    DataPath,
    Dataset,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
)
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.schema import content_hashes
from dataferry.errors import PathNotFoundError
from dataferry.execution.lifecycle import gc, set_retention
from dataferry.execution.resume import resume_run
from dataferry.execution.run_layout import run_dir
from dataferry.storage.commit_marker import INTENT, MARKER, PENDING, STAGING_DIR

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Datastore, Workspace

pytestmark = [pytest.mark.server, pytest.mark.slow]

# appends its name to an attempts log, copies its input folder into its output
STEP = """
import os, shutil, sys
name, attempts, src, dst = sys.argv[1:5]
with open(attempts, "a") as fh:
    fh.write(name + "\\n")
shutil.copytree(src, dst, dirs_exist_ok=True)
"""


@pytest.fixture
def blob(workspace: Workspace, azurite: Azurite, blob_container: str) -> Datastore:
    store = register_blob(workspace, azurite, blob_container)
    put(store, {"raw/a.csv": "a\n", "raw/sub/b.csv": "b\n"})
    return store


@pytest.fixture
def code(tmp_path: Path) -> Path:
    return write_script(tmp_path / "code", "step.py", STEP)


def two_steps(
    ws: Workspace, blob: Datastore, code: Path, attempts: Path, **reuse: bool
) -> tuple[Pipeline, OutputFileDatasetConfig]:
    """``first`` copies raw/ (downloaded) to an intermediate output on blob; ``second``
    copies that to an output registered as ``kept``."""
    raw = Dataset.File.from_files(DataPath(blob, "raw")).as_named_input("raw")
    middle = OutputFileDatasetConfig("middle", destination=(blob, "mid/{run-id}"))
    final = OutputFileDatasetConfig("final", destination=(blob, "final/{run-id}"))

    def make(name: str, src: object, out: object) -> PythonScriptStep:
        return PythonScriptStep(
            "step.py",
            name=name,
            source_directory=str(code),
            arguments=[name, str(attempts), src, out],
            allow_reuse=reuse.get(name, True),
        )

    first = make("first", raw.as_download(), middle)
    second = make(
        "second", middle.as_input("middle"), final.register_on_complete("kept")
    )
    return Pipeline(ws, [first, second]), middle


def test_reuse_is_decided_from_etags_without_downloading(
    workspace: Workspace, blob: Datastore, code: Path, tmp_path: Path
) -> None:
    attempts = tmp_path / "attempts.txt"
    pipeline, _ = two_steps(workspace, blob, code, attempts)
    first = run_pipeline(pipeline)
    assert first.get_status() == "Finished", step(first, "first").get_job_log()

    again = run_pipeline(two_steps(workspace, blob, code, attempts)[0])

    assert again.get_status() == "Finished"
    assert step(again, "first").get_details()["explanation"] == (
        f"reused from run {first.id} (step run {step(first, 'first').id})"
    )
    assert attempts.read_text().split() == ["first", "second"]
    # nothing was downloaded for the second run: no input copy in its folder (the
    # first run's has one) ...
    copies = [p.name for p in run_dir(workspace, first.id).rglob("inputs/**/*.csv")]
    assert sorted(copies) == ["a.csv", "b.csv"]
    assert list(run_dir(workspace, again.id).rglob("*.csv")) == []
    # ... and every blob's content hash is its etag: no blob was read to fingerprint it
    with workspace.catalog.read() as conn:
        hashes = conn.execute(
            select(content_hashes.c.path, content_hashes.c.hash).where(
                content_hashes.c.datastore == "blob"
            )
        ).all()
    assert {p.rsplit("/", 1)[-1] for p, _ in hashes} >= {"a.csv", "b.csv"}
    assert all(h.startswith("etag:") for _, h in hashes), hashes

    # a changed blob has a new etag: the step runs again
    put(blob, {"raw/a.csv": "changed\n"})
    third = run_pipeline(two_steps(workspace, blob, code, attempts)[0])

    assert third.get_status() == "Finished"
    assert attempts.read_text().split() == ["first", "second"] * 2
    made = blobs(blob, f"final/{step(third, 'second').id}")
    assert (made["a.csv"], made["sub/b.csv"]) == ("changed\n", "b\n")


def test_an_output_removed_from_the_container_is_made_again(
    workspace: Workspace, blob: Datastore, code: Path, tmp_path: Path
) -> None:
    attempts = tmp_path / "attempts.txt"
    first = run_pipeline(two_steps(workspace, blob, code, attempts)[0])
    assert first.get_status() == "Finished"
    made = step(first, "first").id
    # someone deletes the output's files behind dataferry's back (its marker stays)
    blob.location.fs.rm_file(blob.location.full_path(f"mid/{made}/a.csv"))

    again = run_pipeline(two_steps(workspace, blob, code, attempts)[0])

    assert again.get_status() == "Finished"
    assert step(again, "first").get_details()["explanation"] == (
        "rerun: earlier output was changed after it was committed "
        f"(middle: 'a.csv' deleted; run {first.id})"
    )
    assert attempts.read_text().split() == ["first", "second", "first", "second"]


def test_delete_intermediate_outputs_on_blob(
    workspace: Workspace, blob: Datastore, code: Path, tmp_path: Path
) -> None:
    pipeline, _ = two_steps(workspace, blob, code, tmp_path / "attempts.txt")

    run = run_pipeline(pipeline, delete_intermediate_outputs=True)

    assert run.get_status() == "Finished"
    first, second = step(run, "first"), step(run, "second")
    assert blobs(blob, f"mid/{first.id}") == {}
    kept = blobs(blob, f"final/{second.id}")
    assert sorted(kept) == [MARKER, "a.csv", "sub/b.csv"]
    (record,) = RunStore(workspace.catalog).outputs_of(first.id)
    assert record.deleted_at is not None


def test_gc_with_a_retention_deletes_remote_intermediate_data_and_stale_staging(
    workspace: Workspace, blob: Datastore, code: Path, tmp_path: Path
) -> None:
    run = run_pipeline(two_steps(workspace, blob, code, tmp_path / "attempts.txt")[0])
    assert run.get_status() == "Finished"
    first, second = step(run, "first"), step(run, "second")
    # what a commit killed half-way leaves on the store, for a step run nobody knows
    put(blob, {f"{STAGING_DIR}/gone_1/out/x.csv": "x"})

    # no retention set: no output is old enough
    assert gc(workspace, dry_run=True).items == []
    set_retention(workspace, "blob", "0s")
    dry = gc(workspace, dry_run=True)
    assert [(i.step_run_id, i.path) for i in dry.items] == [
        (first.id, f"mid/{first.id}")
    ]
    assert dry.staging == [blob.location.full_path(f"{STAGING_DIR}/gone_1")]
    assert blobs(blob, f"mid/{first.id}") != {}

    done = gc(workspace)

    assert done.items == dry.items
    assert blobs(blob, f"mid/{first.id}") == {}
    assert blobs(blob, STAGING_DIR) == {}
    assert sorted(blobs(blob, f"final/{second.id}")) == [MARKER, "a.csv", "sub/b.csv"]
    # the deleted output is not reused: the next run makes it again
    again = run_pipeline(two_steps(workspace, blob, code, tmp_path / "attempts.txt")[0])
    assert again.get_status() == "Finished"
    assert sorted(blobs(blob, f"mid/{step(again, 'first').id}")) == [
        MARKER,
        "a.csv",
        "sub/b.csv",
    ]


# A driver that SIGKILLs itself in the commit of `second`, after the upload to the
# staging prefix and before the publish.
CRASHING_DRIVER = """
import os, signal, sys
from dataferry.execution import driver
from dataferry.storage.staging_object import ObjectStoreStaging

workspace, run_id = sys.argv[1:3]
real = ObjectStoreStaging._publish

def publish(self, source, final, rels):
    if "/final/" in final + "/":
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, source, final, rels)

ObjectStoreStaging._publish = publish
sys.exit(driver.main([workspace, run_id]))
"""


@pytest.fixture
def crashing_driver(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[ScriptedDriver]:
    script = tmp_path / "crashing_driver.py"
    script.write_text(CRASHING_DRIVER)
    driver = ScriptedDriver(script)
    driver.install(monkeypatch)
    yield driver
    driver.reap()


def test_resume_after_the_driver_died_in_a_commit_cleans_the_staging(
    workspace: Workspace,
    blob: Datastore,
    code: Path,
    tmp_path: Path,
    crashing_driver: ScriptedDriver,
) -> None:
    attempts = tmp_path / "attempts.txt"
    pipeline, _ = two_steps(workspace, blob, code, attempts, second=False)
    run = pipeline.submit("resume")
    (driver,) = crashing_driver.started
    assert driver.wait(timeout=WAIT_S) == -signal.SIGKILL
    second_id = step(run, "second").id
    # the killed commit left its upload staged, and a destination that reads as
    # absent (being committed)
    staged = blobs(blob, f"{STAGING_DIR}/{second_id}")
    assert sorted(staged) == [f"final/{INTENT}", "final/a.csv", "final/sub/b.csv"]
    assert blobs(blob, "final") == {f"{second_id}/{PENDING}": ""}
    with pytest.raises(PathNotFoundError, match="matches no file"):
        blob.location.resolve(f"final/{second_id}")

    crashing_driver.script.write_text(
        "import sys\nfrom dataferry.execution import driver\n"
        "sys.exit(driver.main(sys.argv[1:3]))\n"
    )
    resume_run(workspace, run.id)

    assert (
        run.wait_for_completion(
            show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
        )
        == "Finished"
    ), run.get_details()
    assert attempts.read_text().split() == ["first", "second", "second"]
    assert blobs(blob, STAGING_DIR) == {}
    again = step(run, "second").id
    assert sorted(blobs(blob, "final")) == [
        f"{again}/{MARKER}",
        f"{again}/a.csv",
        f"{again}/sub/b.csv",
    ]
    (version,) = workspace.catalog.list_versions("kept")
    assert version.producer_step_run_id == again
