"""A step cannot change data through its inputs, and sees only its own inputs.

The tests run as whoever runs pytest; as root (CI, containers) the system lets every
write through, so what is checked is the detection when the step ends. What the system
refuses to a user that is not root is checked in ``tests/storage/test_integrity.py``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import report, run_pipeline, step, write_script

from dataferry import (
    DataPath,
    DataPathComputeBinding,
    Dataset,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PythonScriptStep,
)
from dataferry.catalog.run_store import RunStore
from dataferry.errors import DamagedDataError
from dataferry.execution.materialise import InputContext, bind_input
from dataferry.execution.plan_inputs import UpstreamOutputInput
from dataferry.storage.bind_mount import BIND_ENV

if TYPE_CHECKING:
    from dataferry import Datastore, PipelineRun, Workspace

# every test runs real pipelines: a driver process and step processes each
pytestmark = pytest.mark.slow

PRODUCE = """
import os, sys
out = sys.argv[1]
os.makedirs(os.path.join(out, "sub"), exist_ok=True)
with open(os.path.join(out, "part.csv"), "w") as fh:
    fh.write("n\\n1\\n2\\n")
with open(os.path.join(out, "sub", "more.csv"), "w") as fh:
    fh.write("n\\n3\\n")
"""

# touch.py ACTION INPUT REPORT: does ACTION to the input, then reports what it saw.
TOUCH = """
import json, os, sys
action, given, report = sys.argv[1:4]
target = os.path.join(given, "part.csv") if os.path.isdir(given) else given
error = None
try:
    if action == "append":
        with open(target, "a") as fh:
            fh.write("3\\n")
    elif action == "truncate":
        with open(target, "w") as fh:
            fh.write("")
    elif action == "delete":
        os.remove(target)
    elif action == "add":
        with open(os.path.join(given, "new.csv"), "w") as fh:
            fh.write("n\\n9\\n")
except OSError as exc:
    error = type(exc).__name__
listing = sorted(
    os.path.relpath(os.path.join(d, n), given)
    for d, _, names in os.walk(given) for n in names
) if os.path.isdir(given) else [os.path.basename(given)]
with open(report, "w") as fh:
    json.dump({"given": given, "error": error, "files": listing}, fh)
"""


@pytest.fixture
def code(tmp_path: Path) -> Path:
    folder = write_script(tmp_path / "code", "produce.py", PRODUCE)
    return write_script(folder, "touch.py", TOUCH)


def consumer_pipeline(
    workspace: Workspace, code: Path, action: str, mode: str, out: Path
) -> Pipeline:
    """``produce`` writes output 'prepared' (registered as 'prepared_ds'); ``consume``
    reads it as input 'data' in ``mode`` and does ``action`` to its part.csv."""
    prepared = OutputFileDatasetConfig(name="prepared").register_on_complete(
        "prepared_ds"
    )
    produce = PythonScriptStep(
        "produce.py", name="produce", source_directory=str(code), arguments=[prepared]
    )
    data = prepared.as_input("data")
    data = data.as_download() if mode == "download" else data.as_mount()
    consume = PythonScriptStep(
        "touch.py",
        name="consume",
        source_directory=str(code),
        arguments=[action, data, str(out)],
    )
    return Pipeline(workspace, [produce, consume])


def committed_folder(run: PipelineRun, workspace: Workspace) -> Path:
    """Where output 'prepared' of ``run``'s produce step is committed."""
    ref = step(run, "produce").get_output_data("prepared")
    return Path(ref.datastore.location.full_path(ref.path_on_datastore))


def damage_of(workspace: Workspace, run: PipelineRun) -> str | None:
    (record,) = RunStore(workspace.catalog).outputs_of(step(run, "produce").id)
    return record.damage


class TestMountedInputIsReadOnly:
    @pytest.fixture(autouse=True)
    def _links(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A view of links, as where bind mounts are not allowed: what root may change
        through it is caught when the step ends (a whole folder bound read-only is
        refused by the kernel instead: tests/execution/test_folder_mounts.py)."""
        monkeypatch.setenv(BIND_ENV, "off")

    def test_append_fails_the_step_and_marks_the_output_damaged(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "seen.json"
        run = run_pipeline(consumer_pipeline(workspace, code, "append", "mount", out))

        consume = step(run, "consume")
        assert (step(run, "produce").get_status(), consume.get_status()) == (
            "Finished",
            "Failed",
        )
        details = consume.get_details()
        producer_run = step(run, "produce").id
        if report(out)["error"] == "PermissionError":  # not root: the write was refused
            assert damage_of(workspace, run) is None
            return
        assert details["error_type"] == "InputChangedError"
        assert details["error"].startswith(
            "step 'consume': input 'data' is read-only, but its data changed while the "
            "step ran: 'part.csv' changed (6 -> 8 bytes). Output 'prepared' of step "
            f"run {producer_run} is marked damaged: reuse will not serve it"
        )
        assert damage_of(workspace, run) == (
            "'part.csv' changed (6 -> 8 bytes); found when step 'consume' "
            f"(step run {consume.id}) ended"
        )
        # the registered version that points at the bytes refuses to read them
        registered = Dataset.get_by_name(workspace, "prepared_ds", version=1)
        with pytest.raises(
            DamagedDataError,
            match=r"is output 'prepared' of step run .*changed after it was committed "
            r"\('part.csv' changed \(6 -> 8 bytes\)",
        ):
            registered.to_path()
        # the next submit writes the output anew instead of reusing the changed bytes
        again = run_pipeline(consumer_pipeline(workspace, code, "read", "mount", out))
        assert again.get_status() == "Finished"
        assert step(again, "produce").get_details()["explanation"] == (
            "rerun: earlier output was changed after it was committed (prepared: "
            "'part.csv' changed (6 -> 8 bytes); found when step 'consume' "
            f"(step run {consume.id}) ended; run {run.id})"
        )
        assert (committed_folder(again, workspace) / "part.csv").read_text() == (
            "n\n1\n2\n"
        )
        latest = Dataset.get_by_name(workspace, "prepared_ds")
        assert (latest.version, latest.to_path()) == (2, ["/part.csv", "/sub/more.csv"])

    def test_an_output_changed_before_a_step_starts_is_not_bound(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        prepared = OutputFileDatasetConfig(name="prepared")
        produce = PythonScriptStep(
            "produce.py",
            name="produce",
            source_directory=str(code),
            arguments=[prepared],
        )
        run = run_pipeline(Pipeline(workspace, [produce]))
        (record,) = RunStore(workspace.catalog).outputs_of(step(run, "produce").id)
        folder = committed_folder(run, workspace)
        os.chmod(folder / "sub", 0o755)
        (folder / "sub" / "more.csv").unlink()
        step_dir = tmp_path / "step_run_x"
        ctx = InputContext(
            workspace,
            step_dir,
            step_dir / "wd",
            {},
            {("produce", "prepared"): record},
            [],
            RunStore(workspace.catalog),
        )
        spec = UpstreamOutputInput(
            name="data",
            mode="mount",
            style="dataset",
            producer="produce",
            output="prepared",
        )

        with pytest.raises(
            DamagedDataError,
            match=rf"^input 'data': output 'prepared' of step run {record.step_run_id} "
            rf"\(workspaceblobstore:/{record.path}\) was changed after it was "
            r"committed: 'sub/more.csv' deleted\. It is marked damaged and not read; "
            r"run the pipeline again to write it anew\.$",
        ):
            bind_input(ctx, spec)
        assert damage_of(workspace, run) == (
            "'sub/more.csv' deleted; found before step run step_run_x started"
        )
        assert not step_dir.exists()

    def test_a_registered_version_mounted_later_is_guarded_too(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "seen.json"
        first = run_pipeline(consumer_pipeline(workspace, code, "read", "mount", out))
        registered = Dataset.get_by_name(workspace, "prepared_ds", version=1)
        data = registered.as_named_input("registered").as_mount()
        later = PythonScriptStep(
            "touch.py",
            name="later",
            source_directory=str(code),
            arguments=["append", data, str(out)],
        )

        run = run_pipeline(Pipeline(workspace, [later]))

        assert step(run, "later").get_status() == "Failed"
        if report(out)["error"] == "PermissionError":
            return
        producer = step(first, "produce").id
        path = f"dataset/{producer}/prepared"
        assert (
            step(run, "later")
            .get_details()["error"]
            .startswith(
                "step 'later': input 'registered' is read-only, but its data changed while "
                f"the step ran: 'workspaceblobstore:/{path}/part.csv' changed (6 -> 8 "
                f"bytes). Output 'prepared' of step run {producer} is marked damaged"
            )
        )
        with pytest.raises(DamagedDataError, match=f"'{path}' is output 'prepared'"):
            registered.to_path()

    def test_truncating_a_file_is_caught_too(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "seen.json"
        run = run_pipeline(consumer_pipeline(workspace, code, "truncate", "mount", out))

        details = step(run, "consume").get_details()
        if report(out)["error"] == "PermissionError":
            return
        assert "'part.csv' changed (6 -> 0 bytes)" in details["error"]
        assert damage_of(workspace, run) is not None

    def test_deleting_a_file_fails_the_step_and_leaves_the_data(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "seen.json"
        run = run_pipeline(consumer_pipeline(workspace, code, "delete", "mount", out))

        consume = step(run, "consume")
        assert consume.get_status() == "Failed"
        # the mount is a view of links: deleting one never reaches the data
        folder = committed_folder(run, workspace)
        assert (folder / "part.csv").read_text() == "n\n1\n2\n"
        assert damage_of(workspace, run) is None
        if report(out)["error"] != "PermissionError":  # root: found at the end
            assert consume.get_details()["error"] == (
                "step 'consume': input 'data' is read-only, but the step changed its "
                "mounted view: 'part.csv' deleted (the data itself is unchanged). A step "
                "that needs to change input files should read them with as_download() "
                "(its own writable copy) and write results to an output."
            )
        # the producer's output is intact, so the next run reuses it
        again = run_pipeline(consumer_pipeline(workspace, code, "read", "mount", out))
        assert step(again, "produce").get_details()["explanation"] == (
            f"reused from run {run.id} (step run {step(run, 'produce').id})"
        )
        assert report(out)["files"] == ["part.csv", "sub/more.csv"]

    def test_adding_a_file_to_the_view_fails_the_step(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "seen.json"
        run = run_pipeline(consumer_pipeline(workspace, code, "add", "mount", out))

        assert step(run, "consume").get_status() == "Failed"
        assert not (committed_folder(run, workspace) / "new.csv").exists()
        if report(out)["error"] != "PermissionError":
            assert (
                "mounted view: 'new.csv' added"
                in (step(run, "consume").get_details()["error"])
            )

    def test_committed_output_is_read_only(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "seen.json"
        run = run_pipeline(consumer_pipeline(workspace, code, "read", "mount", out))

        assert run.get_status() == "Finished"
        folder = committed_folder(run, workspace)
        modes = {
            p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode) & 0o222
            for p in [folder, *folder.rglob("*")]
        }
        assert modes == {".": 0, "part.csv": 0, "sub": 0, "sub/more.csv": 0}
        # the step saw a view in its own folder, of links to the committed files
        seen = report(out)
        assert seen["files"] == ["part.csv", "sub/more.csv"]
        assert seen["given"].endswith(f"/{step(run, 'consume').id}/inputs/data")
        # ... which is gone once the step has ended
        assert not os.path.lexists(seen["given"])

    def test_changed_datastore_file_fails_the_step(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        store_root: Path,
        code: Path,
        tmp_path: Path,
    ) -> None:
        (store_root / "raw").mkdir()
        (store_root / "raw" / "part.csv").write_text("n\n1\n")
        out = tmp_path / "seen.json"
        binding = (DataPath(blobstore, "raw", name="raw"), DataPathComputeBinding())
        s = PythonScriptStep(
            "touch.py",
            source_directory=str(code),
            arguments=["append", binding, str(out)],
            inputs=[binding],
        )

        run = run_pipeline(Pipeline(workspace, [s]))

        details = step(run, "touch.py").get_details()
        assert run.get_status() == "Failed"
        if report(out)["error"] != "PermissionError":
            assert details["error"].startswith(
                "step 'touch.py': input 'raw' is read-only, but its data changed while "
                "the step ran: 'workspaceblobstore:/raw/part.csv' changed (4 -> 6 "
                "bytes). Those are datastore files, not a pipeline output: check them."
            )


class TestDownloadIsAPrivateCopy:
    @pytest.mark.parametrize("action", ["append", "delete", "truncate"])
    def test_changing_the_copy_leaves_the_committed_data(
        self, workspace: Workspace, code: Path, tmp_path: Path, action: str
    ) -> None:
        out = tmp_path / "seen.json"
        run = run_pipeline(consumer_pipeline(workspace, code, action, "download", out))

        assert run.get_status() == "Finished", step(run, "consume").get_job_log()
        assert report(out)["error"] is None
        folder = committed_folder(run, workspace)
        assert (folder / "part.csv").read_text() == "n\n1\n2\n"
        assert damage_of(workspace, run) is None
        assert Dataset.get_by_name(workspace, "prepared_ds").to_path() == [
            "/part.csv",
            "/sub/more.csv",
        ]
        again = run_pipeline(consumer_pipeline(workspace, code, "read", "mount", out))
        assert (
            step(again, "produce")
            .get_details()["explanation"]
            .startswith(f"reused from run {run.id}")
        )


class TestReuseChecksSignatures:
    def test_output_changed_behind_the_catalogs_back_is_not_reused(
        self, workspace: Workspace, code: Path, tmp_path: Path
    ) -> None:
        out = tmp_path / "seen.json"
        first = run_pipeline(consumer_pipeline(workspace, code, "read", "mount", out))
        folder = committed_folder(first, workspace)
        os.chmod(folder / "sub", 0o755)  # as a user who knows how would
        (folder / "sub" / "extra.csv").write_text("n\n7\n")

        second = run_pipeline(consumer_pipeline(workspace, code, "read", "mount", out))

        assert step(second, "produce").get_details()["explanation"] == (
            "rerun: earlier output was changed after it was committed (prepared: "
            f"'sub/extra.csv' added; run {first.id})"
        )
        assert damage_of(workspace, first) == (
            "'sub/extra.csv' added; found by a reuse check"
        )
        assert report(out)["files"] == ["part.csv", "sub/more.csv"]


class TestPrivatePlaces:
    def test_parallel_downloads_to_one_absolute_path_stay_apart(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        store_root: Path,
        tmp_path: Path,
    ) -> None:
        for name in ("left", "right"):
            (store_root / name).mkdir()
            (store_root / name / f"{name}.txt").write_text(name)
        shared = tmp_path / "shared" / "data"
        code = write_script(tmp_path / "code", "see.py", SEE_FOLDER)
        steps = [
            PythonScriptStep(
                "see.py",
                name=name,
                source_directory=str(code),
                arguments=[str(tmp_path / f"{name}.json"), ds],
            )
            for name, ds in (
                (
                    n,
                    Dataset.File.from_files(DataPath(blobstore, n))
                    .as_named_input(n)
                    .as_download(path_on_compute=str(shared)),
                )
                for n in ("left", "right")
            )
        ]

        run = run_pipeline(Pipeline(workspace, steps))

        assert run.get_status() == "Finished"
        for name in ("left", "right"):
            seen = report(tmp_path / f"{name}.json")
            assert seen["files"] == [f"{name}.txt"]
            assert seen["given"] == (
                f"{Path(step(run, name).get_details()['logFiles']['stdout.txt']).parent}"
                f"/paths{shared}"
            )
            assert f"path_on_compute '{shared}' is absolute" in (
                step(run, name).get_stdout_log()
            )
        assert not (tmp_path / "shared").exists()  # nothing made outside the step

    def test_mount_over_a_users_file_leaves_the_file(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        store_root: Path,
        tmp_path: Path,
    ) -> None:
        (store_root / "docs").mkdir()
        (store_root / "docs" / "a.txt").write_text("A")
        precious = tmp_path / "precious.txt"
        precious.write_text("mine")
        code = write_script(tmp_path / "code", "see.py", SEE_FOLDER)
        docs = (
            Dataset.File.from_files(DataPath(blobstore, "docs"))
            .as_named_input("docs")
            .as_mount(path_on_compute=str(precious))
        )
        s = PythonScriptStep(
            "see.py",
            source_directory=str(code),
            arguments=[str(tmp_path / "seen.json"), docs],
        )

        run = run_pipeline(Pipeline(workspace, [s]))

        assert run.get_status() == "Finished", step(run, "see.py").get_job_log()
        assert report(tmp_path / "seen.json")["files"] == ["a.txt"]
        assert not precious.is_symlink()
        assert precious.read_text() == "mine"


# see.py REPORT INPUT: the input path and the files under it.
SEE_FOLDER = """
import json, os, sys
given = sys.argv[2]
files = sorted(os.path.relpath(os.path.join(d, n), given) for d, _, ns in os.walk(given) for n in ns)
with open(sys.argv[1], "w") as fh:
    json.dump({"given": given, "files": files, "mode": oct(os.stat(given).st_mode & 0o777)}, fh)
"""


class TestMountOfNothing:
    @pytest.mark.parametrize("kind", ["datapath", "dataset"])
    def test_empty_read_only_folder_and_one_log_line(
        self, workspace: Workspace, blobstore: Datastore, tmp_path: Path, kind: str
    ) -> None:
        code = write_script(tmp_path / "code", "see.py", SEE_FOLDER)
        if kind == "datapath":
            source: Any = blobstore.path("not/yet", data_reference_name="later")
            what = "workspaceblobstore:/not/yet"
        else:
            dataset = Dataset.File.from_files(
                DataPath(blobstore, "not/yet"), validate=False
            )
            source = dataset.as_named_input("later").as_mount()
            what = f"dataset {dataset.id}"
        s = PythonScriptStep(
            "see.py",
            source_directory=str(code),
            arguments=[str(tmp_path / "seen.json"), source],
            inputs=[source],
        )

        run = run_pipeline(Pipeline(workspace, [s]))

        assert run.get_status() == "Finished", step(run, "see.py").get_job_log()
        seen = report(tmp_path / "seen.json")
        assert (seen["files"], seen["mode"]) == ([], "0o555")
        log = step(run, "see.py").get_job_log()
        line = (
            f"dataferry: input 'later': {what} matched nothing; the step gets an "
            "empty read-only folder"
        )
        assert [x for x in log.splitlines() if "matched nothing" in x] == [line]


# make.py OUT: makes its output folder and writes nothing into it, as samples do
MAKE_EMPTY = """
import os, sys
os.makedirs(sys.argv[1], exist_ok=True)
"""


class TestEmptyUpstreamOutput:
    @pytest.mark.parametrize(
        ("kind", "mode", "wanted_mode"),
        [
            ("pipeline_data", "mount", "0o555"),
            ("pipeline_data", "download", "0o755"),
            ("output_file_dataset", "mount", "0o555"),
            ("output_file_dataset", "download", "0o755"),
        ],
    )
    def test_next_step_gets_an_empty_folder(
        self,
        workspace: Workspace,
        tmp_path: Path,
        kind: str,
        mode: str,
        wanted_mode: str,
    ) -> None:
        code = write_script(tmp_path / "code", "make.py", MAKE_EMPTY)
        write_script(code, "see.py", SEE_FOLDER)
        out: Any
        if kind == "pipeline_data":
            out = PipelineData("made", is_directory=True)
            given = out.as_download() if mode == "download" else out
        else:
            out = OutputFileDatasetConfig(name="made")
            read = out.as_input()
            given = read.as_download() if mode == "download" else read.as_mount()
        make = PythonScriptStep(
            "make.py", source_directory=str(code), arguments=[out], outputs=[out]
        )
        see = PythonScriptStep(
            "see.py",
            source_directory=str(code),
            arguments=[str(tmp_path / "seen.json"), given],
            inputs=[given],
        )

        run = run_pipeline(Pipeline(workspace, [make, see]))

        assert run.get_status() == "Finished", step(run, "see.py").get_job_log()
        seen = report(tmp_path / "seen.json")
        assert (seen["files"], seen["mode"]) == ([], wanted_mode)
