"""Intermediate outputs: listing, deleting, gc (dry run and real), retention.

gc must delete exactly what its dry run listed, and never a registered output, an output
a kept run's reuse record points to, or anything of a run that has not ended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import WAIT_S, run_pipeline, step, write_script

from dataferry import (
    DataPath,
    Dataset,
    Datastore,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
    Workspace,
)
from dataferry.catalog import now
from dataferry.catalog.run_store import TERMINAL, RunStore
from dataferry.errors import DatastoreNotFoundError, InvalidDurationError, RunStateError
from dataferry.execution.commit import STAGING_DIR
from dataferry.execution.lifecycle import (
    GcReport,
    gc,
    intermediate_outputs,
    parse_duration,
    remove_output,
    retention,
    set_retention,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from dataferry import PipelineRun

# argv: INPUT|- GO|- TAG OUT... ; waits for GO (if given), then writes (i + 1) KiB of
# TAG into OUT_i/data.bin
STEP = """
import os, sys, time
src, go, tag, outs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
if go != "-":
    deadline = time.monotonic() + 120
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.02)
for i, out in enumerate(outs):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "data.bin"), "wb") as fh:
        fh.write(tag.encode()[:1] * 1024 * (i + 1))
"""
KIB = 1024


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``)."""
    return catalog_workspace


@pytest.fixture
def code(tmp_path: Path) -> Path:
    return write_script(tmp_path / "code", "step.py", STEP)


def two_steps(
    ws: Workspace,
    code: Path,
    *,
    tag: str = "a",
    prefix: str = "",
    store: Datastore | None = None,
) -> Pipeline:
    """make -> inter, keep ; use(inter) -> final (registered on complete)."""
    kwargs = {"destination": (store, "out/{run-id}/{output-name}")} if store else {}
    inter = OutputFileDatasetConfig(f"{prefix}inter", **kwargs)
    keep = OutputFileDatasetConfig(f"{prefix}keep", **kwargs)
    final = OutputFileDatasetConfig(f"{prefix}final", **kwargs).register_on_complete(
        f"{prefix}final_ds"
    )

    def make(name: str, src: Any, *outs: Any) -> PythonScriptStep:
        return PythonScriptStep(
            "step.py",
            name=f"{prefix}{name}",
            source_directory=str(code),
            arguments=[src, "-", tag, *outs],
        )

    make("make", "-", inter, keep)
    return Pipeline(ws, steps=[make("use", inter.as_input("inter"), final)])


def output_path(run: PipelineRun, step_name: str, output: str) -> str:
    return step(run, step_name).get_output_data(output).path_on_datastore


def listed(report: GcReport | list[Any]) -> list[tuple[str, str, str]]:
    items = report.items if isinstance(report, GcReport) else report
    return sorted((i.run_id, i.step_name, i.name) for i in items)


def age_run(ws: Workspace, run: PipelineRun, days: float) -> None:
    """Pretend ``run`` ended ``days`` ago."""
    RunStore(ws.catalog).update_run(run.id, ended_at=now() - timedelta(days=days))


@dataclass
class Waiting:
    """A run whose first step has committed and whose second step is running."""

    run: PipelineRun
    go: Path


@pytest.fixture
def waiting(workspace: Workspace, code: Path, tmp_path: Path) -> Iterator[Waiting]:
    go = tmp_path / "go"
    first = OutputFileDatasetConfig("w_first")
    second = OutputFileDatasetConfig("w_second")
    PythonScriptStep(
        "step.py",
        name="w_make",
        source_directory=str(code),
        arguments=["-", "-", "w", first],
    )
    last = PythonScriptStep(
        "step.py",
        name="w_wait",
        source_directory=str(code),
        arguments=[first.as_input("w_first"), str(go), "w", second],
    )
    run = Pipeline(workspace, steps=[last]).submit("lifecycle")
    deadline = time.monotonic() + WAIT_S
    while step(run, "w_wait").get_status() != "Running":
        if run.get_status() in TERMINAL or time.monotonic() > deadline:
            pytest.fail(f"w_wait never started: {run.get_details()}")
        time.sleep(0.02)
    yield Waiting(run, go)
    go.touch()
    run.wait_for_completion(show_output=False, timeout_seconds=WAIT_S)


class TestParseDuration:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("30s", timedelta(seconds=30)),
            ("15m", timedelta(minutes=15)),
            ("12h", timedelta(hours=12)),
            ("7d", timedelta(days=7)),
            ("2w", timedelta(weeks=2)),
            ("1.5h", timedelta(minutes=90)),
            (" 3d ", timedelta(days=3)),
            ("0s", timedelta(0)),
        ],
    )
    def test_valid(self, text: str, expected: timedelta) -> None:
        assert parse_duration(text) == expected

    @pytest.mark.parametrize("text", ["", "7", "d", "-1d", "7 days", "1y", "1e3s"])
    def test_malformed(self, text: str) -> None:
        with pytest.raises(
            InvalidDurationError,
            match=rf"invalid duration '{text}': use a number and a unit, one of "
            r"s, m, h, d, w \(for example 7d or 12h\)",
        ):
            parse_duration(text)


@pytest.mark.slow
class TestGc:
    def test_dry_run_lists_exactly_what_gc_deletes(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        store_root: Path,
        code: Path,
        waiting: Waiting,
    ) -> None:
        done = run_pipeline(two_steps(workspace, code))
        assert done.get_status() == "Finished"
        # a dataset registered by hand over one of the outputs
        keep = output_path(done, "make", "keep")
        Dataset.File.from_files(DataPath(blobstore, keep)).register(workspace, "kept")
        # staging left by a crash of a step run the catalog does not know
        stale = store_root / STAGING_DIR / "gone_0123abcd" / "out"
        stale.mkdir(parents=True)
        (stale / "half.bin").write_bytes(b"z" * 10)
        live_staging = store_root / STAGING_DIR / step(waiting.run, "w_wait").id
        assert live_staging.is_dir()
        before = sorted(p for p in store_root.rglob("*") if p.is_file())

        dry = gc(workspace, older_than="0s", dry_run=True)

        assert listed(dry) == [(done.id, "make", "inter")]
        (item,) = dry.items
        assert (item.size_bytes, item.file_count) == (KIB, 1)
        assert dry.total_bytes == KIB
        assert dry.staging == [str(stale.parent)]
        assert not dry.deleted
        assert sorted(p for p in store_root.rglob("*") if p.is_file()) == before

        real = gc(workspace, older_than="0s")

        assert real.items == dry.items
        assert real.staging == dry.staging
        assert real.deleted
        after = sorted(p for p in store_root.rglob("*") if p.is_file())
        assert set(before) - set(after) == {
            store_root / item.path / "data.bin",
            stale / "half.bin",
        }
        # what stays: registered outputs, the running run's output and its staging
        assert (store_root / keep / "data.bin").is_file()
        assert (store_root / output_path(done, "use", "final") / "data.bin").is_file()
        assert (store_root / output_path(waiting.run, "w_make", "w_first")).is_dir()
        assert live_staging.is_dir()
        # the deletion is recorded; a second gc finds nothing more
        (record, _) = RunStore(workspace.catalog).outputs_of(step(done, "make").id)
        assert record.name == "inter"
        assert record.deleted_at is not None
        again = gc(workspace, older_than="0s", dry_run=True)
        assert (again.items, again.staging) == ([], [])

    def test_older_than(
        self, workspace: Workspace, store_root: Path, code: Path
    ) -> None:
        old = run_pipeline(two_steps(workspace, code, tag="o", prefix="old_"))
        new = run_pipeline(two_steps(workspace, code, tag="n", prefix="new_"))
        age_run(workspace, old, days=10)

        assert gc(workspace, older_than="30d", dry_run=True).items == []
        assert listed(gc(workspace, older_than="7d", dry_run=True)) == [
            (old.id, "old_make", "old_inter"),
            (old.id, "old_make", "old_keep"),
        ]
        assert listed(gc(workspace, older_than="0s", dry_run=True)) == sorted(
            [
                (new.id, "new_make", "new_inter"),
                (new.id, "new_make", "new_keep"),
                (old.id, "old_make", "old_inter"),
                (old.id, "old_make", "old_keep"),
            ]
        )

        report = gc(workspace, older_than="7d")

        assert listed(report) == [
            (old.id, "old_make", "old_inter"),
            (old.id, "old_make", "old_keep"),
        ]
        assert report.total_bytes == 3 * KIB
        assert not (store_root / output_path(old, "old_make", "old_inter")).exists()
        assert (store_root / output_path(new, "new_make", "new_inter")).is_dir()

    def test_outputs_a_kept_run_reuses_are_kept(
        self, workspace: Workspace, store_root: Path, code: Path
    ) -> None:
        first = run_pipeline(two_steps(workspace, code))
        second = run_pipeline(two_steps(workspace, code))  # reuses both steps
        assert step(second, "make").get_details()["reusedFrom"] is not None
        age_run(workspace, first, days=10)

        assert gc(workspace, older_than="7d", dry_run=True).items == []

        age_run(workspace, second, days=9)  # now nothing keeps them
        report = gc(workspace, older_than="7d")
        assert listed(report) == [
            (first.id, "make", "inter"),
            (first.id, "make", "keep"),
        ]
        # a third run knows the outputs are gone
        third = run_pipeline(two_steps(workspace, code))
        assert step(third, "make").get_details()["explanation"] == (
            f"rerun: earlier output was deleted (inter, keep of run {first.id})"
        )

    def test_retention_per_datastore(
        self, workspace: Workspace, store_root: Path, code: Path, tmp_path: Path
    ) -> None:
        other = Datastore.register_local(workspace, "other", tmp_path / "other")
        on_default = run_pipeline(two_steps(workspace, code, prefix="d_"))
        on_other = run_pipeline(two_steps(workspace, code, prefix="o_", store=other))
        age_run(workspace, on_default, days=10)
        age_run(workspace, on_other, days=10)

        assert gc(workspace).items == []  # no retention set: nothing is old enough
        set_retention(workspace, "workspaceblobstore", "7d")
        set_retention(workspace, "other", "30d")
        assert retention(workspace) == {"workspaceblobstore": "7d", "other": "30d"}

        report = gc(workspace)

        assert listed(report) == [
            (on_default.id, "d_make", "d_inter"),
            (on_default.id, "d_make", "d_keep"),
        ]
        assert gc(workspace, datastore="other", older_than="1d", dry_run=True).items
        set_retention(workspace, "other", None)
        assert retention(workspace) == {"workspaceblobstore": "7d"}

    def test_an_overwritten_output_is_not_gcd_on_behalf_of_the_old_run(
        self, workspace: Workspace, blobstore: Datastore, store_root: Path, code: Path
    ) -> None:
        """Two runs write to one fixed destination: the first's record is superseded."""

        def pipeline(tag: str) -> Pipeline:
            out = OutputFileDatasetConfig(
                "model", destination=(blobstore, "models/latest")
            ).as_upload(overwrite=True)
            only = PythonScriptStep(
                "step.py",
                name="train",
                source_directory=str(code),
                arguments=["-", "-", tag, out],
            )
            return Pipeline(workspace, steps=[only])

        first = run_pipeline(pipeline("1"))
        second = run_pipeline(pipeline("2"))
        assert (store_root / "models/latest/data.bin").read_bytes() == b"2" * KIB
        age_run(workspace, first, days=10)

        assert gc(workspace, older_than="7d").items == []  # not the second run's bytes
        assert (store_root / "models/latest/data.bin").read_bytes() == b"2" * KIB
        # and a run with the first run's arguments does not reuse the second's bytes
        third = run_pipeline(pipeline("1"))
        assert step(third, "train").get_details()["explanation"] == (
            f"rerun: earlier output was deleted (model of run {first.id})"
        )
        assert (store_root / "models/latest/data.bin").read_bytes() == b"1" * KIB
        assert second.get_status() == "Finished"

    def test_bad_arguments(self, workspace: Workspace, code: Path) -> None:
        done = run_pipeline(two_steps(workspace, code))
        path = output_path(done, "make", "inter")

        with pytest.raises(InvalidDurationError, match=r"invalid duration 'soon'"):
            gc(workspace, older_than="soon")
        with pytest.raises(DatastoreNotFoundError, match=r"'nope'"):
            gc(workspace, datastore="nope", older_than="0s")
        with pytest.raises(InvalidDurationError, match=r"invalid duration '7 days'"):
            set_retention(workspace, "workspaceblobstore", "7 days")
        with pytest.raises(DatastoreNotFoundError, match=r"'nope'"):
            set_retention(workspace, "nope", "7d")

        assert retention(workspace) == {}
        assert workspace.get_default_datastore().location.exists(path)


def test_remove_output_of_a_folder_a_file_or_nothing(
    workspace: Workspace, store_root: Path
) -> None:
    (store_root / "folder" / "sub").mkdir(parents=True)
    (store_root / "folder" / "sub" / "x.bin").write_bytes(b"x")
    (store_root / "single.bin").write_bytes(b"y")

    for path in ("folder", "single.bin", "never-there"):
        remove_output(workspace, "workspaceblobstore", path)

    assert list(store_root.iterdir()) == []


@pytest.mark.slow
class TestDeleteIntermediateOutputs:
    def test_of_a_finished_run(
        self, workspace: Workspace, store_root: Path, code: Path
    ) -> None:
        done = run_pipeline(two_steps(workspace, code))

        deleted = done.delete_intermediate_outputs()

        assert listed(deleted) == [
            (done.id, "make", "inter"),
            (done.id, "make", "keep"),
        ]
        assert not (store_root / output_path(done, "make", "inter")).exists()
        assert (store_root / output_path(done, "use", "final")).is_dir()
        assert done.delete_intermediate_outputs() == []
        again = run_pipeline(two_steps(workspace, code))
        new_inter = "input 'inter' changed: upstream step 'make' produced new output"
        assert {s.name: s.get_details()["explanation"] for s in again.get_steps()} == {
            "make": f"rerun: earlier output was deleted (inter, keep of run {done.id})",
            "use": f"rerun: {new_inter}",
        }

    def test_of_a_running_run(self, workspace: Workspace, waiting: Waiting) -> None:
        with pytest.raises(
            RunStateError,
            match=rf"run {waiting.run.id} is Running: its outputs are deleted only "
            "once it has ended",
        ):
            waiting.run.delete_intermediate_outputs()
        assert intermediate_outputs(workspace, run_ids={waiting.run.id}) == []

    def test_submit_option(
        self, workspace: Workspace, store_root: Path, code: Path
    ) -> None:
        run = run_pipeline(two_steps(workspace, code), delete_intermediate_outputs=True)

        assert run.get_status() == "Finished"
        # gone by the time the run shows Finished; the registered output stays
        assert not (store_root / output_path(run, "make", "inter")).exists()
        assert not (store_root / output_path(run, "make", "keep")).exists()
        assert (store_root / output_path(run, "use", "final") / "data.bin").is_file()
        records = RunStore(workspace.catalog).outputs_of(step(run, "make").id)
        assert all(r.deleted_at is not None for r in records)
