"""Step reuse: which steps of a second run reuse the first run's outputs, and why not.

Every test runs a real three-step chain, ``prep -> train -> report``: prep reads the
files under ``raw/`` on the default datastore, each later step reads the output of the
one before. Each step lives in its own source folder, so a change to one step's code
touches only that step. After a change, the test checks the explanation of *every*
step: the ones the change affects rerun saying why, the others are reused.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import run_pipeline, step, write_script

from dataferry import (
    DataPath,
    Dataset,
    Datastore,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineParameter,
    PythonScriptStep,
    Workspace,
)
from dataferry.catalog.hash_cache import HashCache
from dataferry.catalog.run_store import RunStore
from dataferry.errors import StepDefinitionError
from dataferry.execution.lifecycle import delete_outputs, intermediate_outputs
from dataferry.storage import hashing
from dataferry.storage.hashing import content_hashes

if TYPE_CHECKING:
    from collections.abc import Callable

    from dataferry import PipelineRun

# Reads every file of its input (argv[1]) and writes, into its output (argv[2]), where
# it read from (the folder of the first file, links resolved, as device and inode: a
# read-only bind mount shows the same folder at another path), a digest of what it
# read, and its other arguments.
STEP = """
import hashlib, json, os, sys
src, dst, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
digest = hashlib.sha256()
for folder, dirs, names in os.walk(src):
    dirs.sort()
    for name in sorted(names):
        with open(os.path.join(folder, name), "rb") as fh:
            digest.update(fh.read())
os.makedirs(dst, exist_ok=True)
with open(os.path.join(dst, "result.json"), "w") as fh:
    first = min(os.path.join(f, n) for f, _, ns in os.walk(src) for n in ns)
    st = os.stat(os.path.dirname(os.path.realpath(first)))
    seen = {"read_from": [st.st_dev, st.st_ino], "digest": digest.hexdigest()}
    json.dump({**seen, "args": extra}, fh)
# version 1
"""
STEPS = ("prep", "train", "report")
NO_EARLIER = "run: first run of this step, nothing to reuse"
NEW_MODEL = "rerun: input 'model' changed: upstream step 'train' produced new output"
NEW_CLEAN = "rerun: input 'clean' changed: upstream step 'prep' produced new output"


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``)."""
    return catalog_workspace


@pytest.fixture
def raw(store_root: Path) -> Path:
    """``raw/`` on the default datastore: four small files."""
    folder = store_root / "raw"
    folder.mkdir()
    for name in ("a", "b", "c", "d"):
        (folder / f"{name}.txt").write_text(f"content of {name}\n")
    return folder


@pytest.fixture
def code(tmp_path: Path) -> Path:
    """One source folder per step (``code/<step>/<step>.py``), plus ignore rules."""
    root = tmp_path / "code"
    for name in STEPS:
        write_script(root / name, f"{name}.py", STEP)
    (root / "prep" / ".amlignore").write_text("*.log\nscratch/\n")
    (root / "prep" / "run.log").write_text("ignored\n")
    (root / "train" / ".gitignore").write_text("notes.txt\n")
    (root / "train" / "notes.txt").write_text("ignored too\n")
    (root / "report" / "util.py").write_text("Y = 2\n")
    return root


def chain(
    ws: Workspace,
    code: Path,
    *,
    epochs: str = "3",
    train_reuse: bool = True,
) -> Pipeline:
    """prep(raw) -> clean -> train(clean, threshold) -> model -> report -> summary."""
    store = ws.get_default_datastore()
    raw = Dataset.File.from_files(DataPath(store, "raw"))
    threshold = PipelineParameter("threshold", default_value=1)
    clean = OutputFileDatasetConfig("clean")
    model = OutputFileDatasetConfig("model")
    summary = OutputFileDatasetConfig("summary")

    def make(name: str, inp: Any, out: Any, *extra: Any, reuse: bool = True) -> Any:
        return PythonScriptStep(
            f"{name}.py",
            name=name,
            source_directory=str(code / name),
            arguments=[inp, out, *extra],
            allow_reuse=reuse,
        )

    make("prep", raw.as_named_input("raw").as_mount(), clean)
    make(
        "train",
        clean.as_input("clean"),
        model,
        "--epochs",
        epochs,
        "--threshold",
        threshold,
        reuse=train_reuse,
    )
    last = make("report", model.as_input("model"), summary)
    return Pipeline(ws, steps=[last])


def explanations(run: PipelineRun) -> dict[str, str | None]:
    """``{step name: explanation}`` of a finished run."""
    assert run.get_status() == "Finished", run.get_details()
    return {s.name: s.get_details()["explanation"] for s in run.get_steps()}


def reused(run: PipelineRun, name: str) -> str:
    """The explanation a step of ``run`` shows when a later run reuses it."""
    return f"reused from run {run.id} (step run {step(run, name).id})"


def result(run: PipelineRun, name: str, output: str) -> dict[str, Any]:
    """What a step wrote into its output (through the committed output's location)."""
    ref = step(run, name).get_output_data(output)
    root = Path(ref.datastore.location.root)
    data: dict[str, Any] = json.loads(
        (root / ref.path_on_datastore / "result.json").read_text()
    )
    return data


def flip_byte(path: Path, old: bytes, new: bytes) -> None:
    """Change one byte, keeping the size (a change a size check cannot see)."""
    data = path.read_bytes()
    assert data.count(old) == 1 and len(old) == len(new)
    assert sum(a != b for a, b in zip(old, new, strict=True)) == 1
    path.write_bytes(data.replace(old, new))


@pytest.fixture
def first(workspace: Workspace, raw: Path, code: Path) -> PipelineRun:
    """The first run of the chain: every step runs."""
    run = run_pipeline(chain(workspace, code))
    assert explanations(run) == dict.fromkeys(STEPS, NO_EARLIER)
    return run


@pytest.mark.slow
class TestReuse:
    def test_unchanged_pipeline_reuses_every_step(
        self, workspace: Workspace, code: Path, first: PipelineRun
    ) -> None:
        second = run_pipeline(chain(workspace, code))

        assert explanations(second) == {n: reused(first, n) for n in STEPS}
        for name in STEPS:
            original, again = step(first, name), step(second, name)
            details = again.get_details()
            assert details["status"] == "Finished"
            assert details["reusedFrom"] == original.id
            assert details["reused_run_id"] == first.id
            assert details["startTimeUtc"] == details["endTimeUtc"]
            assert "pid" not in details  # no process was started
            assert details["logFiles"] == {}
            # the outputs are the original ones, not copies
            assert {
                k: v.get_port_data_reference().path_on_datastore
                for k, v in again.get_outputs().items()
            } == {
                k: v.get_port_data_reference().path_on_datastore
                for k, v in original.get_outputs().items()
            }
        store = RunStore(workspace.catalog)
        assert all(store.outputs_of(s.id) == [] for s in second.get_steps())

    def test_reuse_of_a_reuse_names_the_run_that_wrote_the_outputs(
        self, workspace: Workspace, code: Path, first: PipelineRun
    ) -> None:
        run_pipeline(chain(workspace, code))
        third = run_pipeline(chain(workspace, code))

        assert explanations(third) == {n: reused(first, n) for n in STEPS}
        assert step(third, "train").get_details()["reused_run_id"] == first.id

    def test_source_byte_changed(
        self, workspace: Workspace, code: Path, first: PipelineRun, store_root: Path
    ) -> None:
        flip_byte(code / "train" / "train.py", b"# version 1", b"# version 2")

        second = run_pipeline(chain(workspace, code))

        assert explanations(second) == {
            "prep": reused(first, "prep"),
            "train": "rerun: source file train.py changed",
            "report": NEW_MODEL,
        }
        # the rerun train read prep's original output in place
        clean = step(first, "prep").get_output_data("clean").path_on_datastore
        place = (store_root / clean).stat()
        read_from = result(second, "train", "model")["read_from"]
        assert read_from == [place.st_dev, place.st_ino]

    @pytest.mark.parametrize(
        ("folder", "ignored"),
        [("prep", "run.log"), ("prep", "scratch/tmp.bin"), ("train", "notes.txt")],
        ids=["amlignore-glob", "amlignore-folder", "gitignore"],
    )
    def test_ignored_source_file_changed(
        self,
        workspace: Workspace,
        code: Path,
        first: PipelineRun,
        folder: str,
        ignored: str,
    ) -> None:
        path = code / folder / ignored
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("something else entirely\n")

        second = run_pipeline(chain(workspace, code))

        assert explanations(second) == {n: reused(first, n) for n in STEPS}

    def test_source_files_added_and_removed(
        self, workspace: Workspace, code: Path, first: PipelineRun
    ) -> None:
        (code / "prep" / "helper.py").write_text("X = 1\n")
        (code / "report" / "util.py").unlink()

        second = run_pipeline(chain(workspace, code))

        assert explanations(second) == {
            "prep": "rerun: source file helper.py added",
            "train": NEW_CLEAN,
            "report": "rerun: source file util.py removed; input 'model' changed: "
            "upstream step 'train' produced new output",
        }

    def test_input_byte_changed(
        self, workspace: Workspace, code: Path, first: PipelineRun, raw: Path
    ) -> None:
        flip_byte(raw / "b.txt", b"b", b"B")

        second = run_pipeline(chain(workspace, code))

        assert explanations(second) == {
            "prep": "rerun: input 'raw' changed: 1 file differs",
            "train": NEW_CLEAN,
            "report": NEW_MODEL,
        }
        assert (
            result(second, "prep", "clean")["digest"]
            != (result(first, "prep", "clean")["digest"])
        )

    def test_input_files_changed_added_and_removed(
        self, workspace: Workspace, code: Path, first: PipelineRun, raw: Path
    ) -> None:
        flip_byte(raw / "a.txt", b"a", b"A")
        (raw / "c.txt").unlink()
        (raw / "e.txt").write_text("new\n")

        second = run_pipeline(chain(workspace, code))

        assert explanations(second)["prep"] == (
            "rerun: input 'raw' changed: 3 files differ"
        )

    def test_input_touched_but_unchanged(
        self, workspace: Workspace, code: Path, first: PipelineRun, raw: Path
    ) -> None:
        """A new signature with the same bytes: hashed again, and still reused."""
        path = raw / "a.txt"
        path.write_bytes(path.read_bytes())
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))

        second = run_pipeline(chain(workspace, code))

        assert explanations(second) == {n: reused(first, n) for n in STEPS}

    def test_argument_changed(
        self, workspace: Workspace, code: Path, first: PipelineRun
    ) -> None:
        second = run_pipeline(chain(workspace, code, epochs="4"))

        assert explanations(second) == {
            "prep": reused(first, "prep"),
            "train": "rerun: arguments changed",
            "report": NEW_MODEL,
        }
        assert result(second, "train", "model")["args"] == [
            "--epochs",
            "4",
            "--threshold",
            "1",
        ]

    def test_parameter_changed(
        self, workspace: Workspace, code: Path, first: PipelineRun
    ) -> None:
        second = run_pipeline(
            chain(workspace, code), pipeline_parameters={"threshold": 2}
        )

        assert explanations(second) == {
            "prep": reused(first, "prep"),
            "train": "rerun: parameter 'threshold' changed",
            "report": NEW_MODEL,
        }

    def test_output_deleted_behind_the_catalogs_back(
        self, workspace: Workspace, code: Path, first: PipelineRun, store_root: Path
    ) -> None:
        model = step(first, "train").get_output_data("model").path_on_datastore
        shutil.rmtree(store_root / model)

        second = run_pipeline(chain(workspace, code))

        assert explanations(second) == {
            "prep": reused(first, "prep"),
            "train": f"rerun: earlier output was deleted (model of run {first.id})",
            "report": NEW_MODEL,
        }
        # the catalog now knows, so the next look does not have to ask the datastore
        (record,) = RunStore(workspace.catalog).outputs_of(step(first, "train").id)
        assert record.deleted_at is not None
        # and the new outputs are reused from then on
        third = run_pipeline(chain(workspace, code))
        assert explanations(third) == {
            "prep": reused(first, "prep"),
            "train": reused(second, "train"),
            "report": reused(second, "report"),
        }

    def test_output_deleted_through_the_catalog(
        self, workspace: Workspace, code: Path, first: PipelineRun, store_root: Path
    ) -> None:
        report_run = step(first, "report").id
        items = [
            i
            for i in intermediate_outputs(workspace, run_ids={first.id})
            if i.step_run_id == report_run
        ]
        delete_outputs(workspace, items)
        assert not (store_root / items[0].path).exists()

        second = run_pipeline(chain(workspace, code))

        assert explanations(second) == {
            "prep": reused(first, "prep"),
            "train": reused(first, "train"),
            "report": f"rerun: earlier output was deleted (summary of run {first.id})",
        }

    def test_allow_reuse_false(
        self, workspace: Workspace, code: Path, first: PipelineRun
    ) -> None:
        second = run_pipeline(chain(workspace, code, train_reuse=False))

        # the rerun train wrote new bytes, so what reads them runs again too
        assert explanations(second) == {
            "prep": reused(first, "prep"),
            "train": "rerun: allow_reuse=False",
            "report": NEW_MODEL,
        }

    def test_allow_reuse_back_on_reuses_the_forced_run(
        self, workspace: Workspace, code: Path, first: PipelineRun
    ) -> None:
        second = run_pipeline(chain(workspace, code, train_reuse=False))
        third = run_pipeline(chain(workspace, code))

        assert explanations(third) == {
            "prep": reused(first, "prep"),
            "train": reused(second, "train"),
            "report": reused(second, "report"),
        }

    def test_regenerate_outputs(
        self, workspace: Workspace, code: Path, first: PipelineRun
    ) -> None:
        second = run_pipeline(chain(workspace, code), regenerate_outputs=True)

        assert explanations(second) == dict.fromkeys(
            STEPS, "rerun: regenerate_outputs=True"
        )
        assert all(s.get_details()["reusedFrom"] is None for s in second.get_steps())

    def test_show_output_prints_the_explanation(
        self,
        workspace: Workspace,
        code: Path,
        first: PipelineRun,
        raw: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        flip_byte(raw / "d.txt", b"d", b"D")
        capsys.readouterr()

        run = chain(workspace, code).submit("tests", pipeline_parameters={})
        run.wait_for_completion(show_output=True, timeout_seconds=90)

        out = capsys.readouterr().out
        # each step's reuse decision is a line with its reason (read from the run's
        # events: shown however quick the step was), and so is the summary
        changed = "rerun: input 'raw' changed: 1 file differs"
        assert re.search(rf"\d\d \[prep\] Runs \({re.escape(changed)}\)\n", out)
        assert re.search(rf"\d\d \[train\] Runs \({re.escape(NEW_CLEAN)}\)\n", out)
        assert f"  {'report':30} {'Finished':10} {NEW_MODEL}\n" in out


class TestLinkedSourceFolders:
    @pytest.mark.slow
    def test_a_linked_folder_is_part_of_the_source(
        self, workspace: Workspace, raw: Path, code: Path, tmp_path: Path
    ) -> None:
        shared = tmp_path / "shared"
        shared.mkdir()
        (shared / "vocab.txt").write_text("alpha beta\n")
        (code / "train" / "lib").symlink_to(shared, target_is_directory=True)
        first = run_pipeline(chain(workspace, code))
        log_dir = Path(step(first, "train").get_details()["logFiles"]["stdout.txt"])
        assert (log_dir.parent / "wd" / "lib" / "vocab.txt").is_file()

        flip_byte(shared / "vocab.txt", b"alpha", b"alphA")
        second = run_pipeline(chain(workspace, code))

        assert explanations(second) == {
            "prep": reused(first, "prep"),
            "train": "rerun: source file lib/vocab.txt changed",
            "report": NEW_MODEL,
        }

    def test_a_link_back_up_is_refused(
        self, workspace: Workspace, raw: Path, code: Path
    ) -> None:
        (code / "prep" / "sub").mkdir()
        (code / "prep" / "sub" / "up").symlink_to(code / "prep")

        with pytest.raises(
            StepDefinitionError,
            match=r"the link sub/up points at .*prep, a folder that contains it",
        ):
            chain(workspace, code).submit("tests")


class TestBadSource:
    @pytest.mark.slow
    def test_unreadable_file_in_source_directory(
        self, workspace: Workspace, raw: Path, code: Path
    ) -> None:
        (code / "train" / "data.csv").symlink_to(code / "nowhere.csv")
        store = RunStore(workspace.catalog)

        with pytest.raises(StepDefinitionError, match=r"cannot read .*data\.csv"):
            chain(workspace, code).submit("tests")

        assert store.list_runs() == []  # nothing was written

    def test_unlistable_source_directory(
        self,
        workspace: Workspace,
        raw: Path,
        code: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A folder that cannot be listed (chmod 000; root ignores it, so simulated)."""
        locked = code / "prep" / "locked"
        locked.mkdir()
        real_scandir = os.scandir

        def scandir(path: Any = ".") -> Any:
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)

        with pytest.raises(
            StepDefinitionError,
            match=r"cannot read source_directory .*prep: .*Permission denied",
        ):
            chain(workspace, code).submit("tests")

        assert RunStore(workspace.catalog).list_runs() == []

    def test_missing_source_directory(
        self, workspace: Workspace, raw: Path, code: Path
    ) -> None:
        shutil.rmtree(code / "report")

        with pytest.raises(
            StepDefinitionError, match=r"Step \[report\]: script not found at: "
        ):
            chain(workspace, code)

        assert RunStore(workspace.catalog).list_runs() == []


class TestHashCache:
    """Input content is read once; later runs trust an unchanged signature."""

    @pytest.fixture
    def files(self, store_root: Path) -> list[Path]:
        paths = []
        for i in range(3):
            path = store_root / "in" / f"{i}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes([i]) * 1000)
            old = path.stat().st_mtime_ns - 60 * 10**9  # settled: a minute old
            os.utime(path, ns=(old, old))
            paths.append(path)
        return paths

    @pytest.fixture
    def reads(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """The files actually read to be hashed."""
        seen: list[str] = []
        real = hashing.hash_file

        def counting(
            path: str, *, on_bytes: Callable[[int], None] | None = None
        ) -> str:
            seen.append(Path(path).name)
            return real(path, on_bytes=on_bytes)

        monkeypatch.setattr(hashing, "hash_file", counting)
        return seen

    def hash_all(
        self, blobstore: Datastore, workspace: Workspace, files: list[Path]
    ) -> dict[str, str]:
        cache = HashCache(workspace.catalog)
        hashed = content_hashes(
            blobstore.location,
            [str(p) for p in files],
            cached=cache.lookup,
            remember=cache.remember,
        )
        return {Path(h.signature.path).name: h.content_hash for h in hashed}

    def test_unchanged_files_are_not_read_again(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        files: list[Path],
        reads: list[str],
    ) -> None:
        first = self.hash_all(blobstore, workspace, files)
        assert sorted(reads) == ["0.bin", "1.bin", "2.bin"]
        reads.clear()

        assert self.hash_all(blobstore, workspace, files) == first
        assert reads == []

        files[1].write_bytes(b"\x07" * 1000)  # same size, new content
        old = files[1].stat().st_mtime_ns - 30 * 10**9
        os.utime(files[1], ns=(old, old))
        again = self.hash_all(blobstore, workspace, files)
        assert reads == ["1.bin"]
        assert again["1.bin"] != first["1.bin"]
        assert again["0.bin"] == first["0.bin"]

    def test_a_file_modified_just_now_is_not_cached(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        files: list[Path],
        reads: list[str],
    ) -> None:
        """Racy clean: a second write in the same clock tick keeps size and mtime."""
        files[0].write_bytes(b"\x01" * 1000)  # mtime: now
        self.hash_all(blobstore, workspace, files)
        reads.clear()
        stat = files[0].stat()
        files[0].write_bytes(b"\x02" * 1000)  # same size...
        os.utime(files[0], ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ...same tick

        again = self.hash_all(blobstore, workspace, files)

        assert reads == ["0.bin"]
        assert again["0.bin"] == hashing.hash_bytes(b"\x02" * 1000)
