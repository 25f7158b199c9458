"""``gc`` of a shared workspace's snapshots and logs on its default datastore: a
snapshot no run, published pipeline or submit uses, and the logs of a run the catalog
no longer has, go (``--dry-run`` lists them with their sizes); anything in use stays,
also while another workspace folder submits. On a shared local folder on both
databases, and on Azurite (``server``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner
from execution.shared_folders import two_folders
from servers.azurite import ACCOUNT, KEY

from dataferry import Datastore, Experiment, Pipeline, PythonScriptStep, Workspace
from dataferry.catalog import snapshot_holds
from dataferry.cli import app
from dataferry.execution.lifecycle import gc
from dataferry.execution.shared_gc import LOG, SNAPSHOT, SharedItem
from dataferry.execution.shared_snapshots import publish_snapshots
from dataferry.execution.snapshot import take_snapshot
from dataferry.storage.commit_marker import MARKER

if TYPE_CHECKING:
    from collections.abc import Iterator

    from servers.azurite import Azurite

ORPHAN = "0f" * 32  # a snapshot hash no run names
CODE = b"print('x')"  # 10 bytes
GONE_RUN = "gone_1700000000_deadbeef"
KEY_ENV = "DATAFERRY_SHARED_GC_KEY"


@pytest.fixture
def pair(tmp_path: Path, catalog_url: str) -> Iterator[tuple[Workspace, Workspace]]:
    """Two workspace folders on one catalog, a shared folder as default datastore."""
    yield from two_folders(tmp_path, catalog_url)


def _orphan_snapshot(ws: Workspace, name: str = ORPHAN) -> None:
    """A snapshot stored on the shared datastore that no run names."""
    folder = ws.path / "snapshots" / name
    folder.mkdir(parents=True)
    (folder / "a.py").write_bytes(CODE)
    assert publish_snapshots(ws, [f"snapshots/{name}"]) == [
        f"dataferry/snapshots/{name}"
    ]


def _orphan_logs(ws: Workspace, tmp_path: Path) -> None:
    """Logs of a run the catalog does not have (5 bytes)."""
    local = tmp_path / "stdout.txt"
    local.write_bytes(b"hello")
    location = ws.get_default_datastore().location
    target = f"dataferry/logs/{GONE_RUN}/step_1/stdout.txt"
    location.put_files([(str(local), target)], overwrite=True, show_progress=False)


def _submit(ws: Workspace, code: Path, word: str) -> str:
    code.mkdir(parents=True, exist_ok=True)
    (code / "say.py").write_text(f"print({word!r})\n")
    step = PythonScriptStep("say.py", name="say", source_directory=str(code))
    run = Experiment(ws, "e").submit(Pipeline(ws, steps=[step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    return run.id


def _stored(ws: Workspace, prefix: str) -> list[str]:
    location = ws.get_default_datastore().location
    full = location.full_path(prefix)
    if not location.fs.isdir(full):
        return []
    return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in location.fs.ls(full))


def test_dry_run_lists_unused_snapshots_and_deleted_runs_logs_with_sizes(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    first, second = pair
    run_id = _submit(first, tmp_path / "code", "kept")
    (kept,) = _stored(first, "dataferry/snapshots")
    _orphan_snapshot(first)
    _orphan_logs(first, tmp_path)

    report = gc(second, older_than="1d", dry_run=True)

    assert report.shared == [
        SharedItem(SNAPSHOT, ORPHAN, f"dataferry/snapshots/{ORPHAN}", len(CODE)),
        SharedItem(LOG, GONE_RUN, f"dataferry/logs/{GONE_RUN}", 5),
    ]
    assert report.shared_bytes == len(CODE) + 5
    assert _stored(first, "dataferry/snapshots") == sorted([kept, ORPHAN])
    assert _stored(first, "dataferry/logs") == sorted([run_id, GONE_RUN])


def test_gc_deletes_them_and_keeps_what_runs_use(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    first, second = pair
    run_id = _submit(first, tmp_path / "code", "kept")
    (kept,) = _stored(first, "dataferry/snapshots")
    _orphan_snapshot(first)
    _orphan_logs(first, tmp_path)

    report = gc(second, older_than="1d")

    assert [(i.kind, i.name) for i in report.shared] == [
        (SNAPSHOT, ORPHAN),
        (LOG, GONE_RUN),
    ]
    assert _stored(first, "dataferry/snapshots") == [kept]
    assert _stored(first, "dataferry/logs") == [run_id]
    assert gc(first, older_than="1d").shared == []  # nothing left to collect


def test_a_held_snapshot_stays_until_its_hold_is_released(
    pair: tuple[Workspace, Workspace],
) -> None:
    first, second = pair
    _orphan_snapshot(first)
    token = snapshot_holds.hold(second.catalog, [ORPHAN])

    assert gc(first, older_than="1d").shared == []
    assert _stored(first, "dataferry/snapshots") == [ORPHAN]

    snapshot_holds.release(second.catalog, token)
    assert [i.name for i in gc(first, older_than="1d").shared] == [ORPHAN]
    assert _stored(first, "dataferry/snapshots") == []


def test_a_snapshot_a_published_pipeline_names_stays(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    first, second = pair
    code = tmp_path / "code"
    code.mkdir()
    (code / "say.py").write_text("print('published')\n")
    step = PythonScriptStep("say.py", name="say", source_directory=str(code))
    Pipeline(first, steps=[step]).publish(name="kept")
    named = snapshot_holds.referenced(first.catalog)
    publish_snapshots(first, [f"snapshots/{name}" for name in named])

    assert gc(second, older_than="1d").shared == []
    assert _stored(first, "dataferry/snapshots") == sorted(named)


def test_gc_of_another_datastore_leaves_the_shared_folders_alone(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    first, second = pair
    _orphan_snapshot(first)
    report = gc(second, older_than="1d", datastore="workspaceblobstore")
    assert report.shared == []
    assert _stored(first, "dataferry/snapshots") == [ORPHAN]


def test_a_workspace_that_is_not_shared_has_nothing_shared_to_collect(
    workspace: Workspace,
) -> None:
    assert gc(workspace, older_than="1d", dry_run=True).shared == []


def test_the_cli_dry_run_prints_each_with_its_bytes_and_deletes_nothing(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    first, second = pair
    _orphan_snapshot(first)
    _orphan_logs(first, tmp_path)
    project = str(second.path.parent)
    cli = CliRunner(env={"COLUMNS": "200"})

    result = cli.invoke(app, ["-w", project, "gc", "--older-than", "1d", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert f"would delete shared snapshot dataferry/snapshots/{ORPHAN} (10 bytes)" in (
        result.output
    )
    assert f"would delete shared log dataferry/logs/{GONE_RUN} (5 bytes)" in (
        result.output
    )
    assert "would delete 2 shared snapshot/log folder(s), 15 bytes in total" in (
        result.output
    )
    assert _stored(first, "dataferry/snapshots") == [ORPHAN]
    assert _stored(first, "dataferry/logs") == [GONE_RUN]


def _killed_mid_delete(ws: Workspace, prefix: str, name: str) -> str:
    """What a gc killed (-9) between renaming ``name`` aside and freeing it leaves:
    the folder under its hidden name, still read-only as committed outputs are."""
    root = Path(ws.get_default_datastore().location.full_path(prefix))
    aside = f".{name}.deleting-0a1b2c3d"
    (root / name).rename(root / aside)
    for path in (root / aside).rglob("*"):
        path.chmod(0o444 if path.is_file() else 0o555)
    (root / aside).chmod(0o555)
    return aside


def test_gc_finishes_a_delete_killed_after_the_folder_was_renamed_aside(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    first, second = pair
    _orphan_snapshot(first)
    _orphan_logs(first, tmp_path)
    snap = _killed_mid_delete(first, "dataferry/snapshots", ORPHAN)
    log = _killed_mid_delete(first, "dataferry/logs", GONE_RUN)

    listed = gc(second, older_than="1d", dry_run=True).shared
    done = gc(second, older_than="1d").shared

    assert (
        listed
        == done
        == [
            SharedItem(SNAPSHOT, ORPHAN, f"dataferry/snapshots/{snap}", len(CODE)),
            SharedItem(LOG, GONE_RUN, f"dataferry/logs/{log}", 5),
        ]
    )
    assert _stored(first, "dataferry/snapshots") == []
    assert _stored(first, "dataferry/logs") == []
    assert gc(first, older_than="1d", dry_run=True).shared == []


def test_a_folder_merely_named_like_a_leftover_is_garbage_only_when_unused(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    """A hidden folder that is not ``.<name>.deleting-<8 hex>`` is not ours: kept."""
    first, second = pair
    _orphan_snapshot(first)
    root = Path(first.get_default_datastore().location.full_path("dataferry/snapshots"))
    for odd in (".x.deleting-zz", ".x.deleting-0a1b2c3d4", ".hidden"):
        (root / odd).mkdir()

    assert [i.name for i in gc(second, older_than="1d").shared] == [ORPHAN]
    assert _stored(first, "dataferry/snapshots") == sorted(
        [".hidden", ".x.deleting-0a1b2c3d4", ".x.deleting-zz"]
    )


GC_LOOP = """
import sys, time
from dataferry import Workspace
from dataferry.execution.lifecycle import gc
ws = Workspace.from_config(sys.argv[1])
end = time.monotonic() + float(sys.argv[2])
passes = 0
while time.monotonic() < end:
    gc(ws, older_than="1d")
    passes += 1
print(passes)
"""


@pytest.mark.slow
def test_one_folder_gcs_while_the_other_submits_the_same_content(
    pair: tuple[Workspace, Workspace], tmp_path: Path
) -> None:
    """Each submit's code is first stored unused (as a submit that died after
    storing it leaves it), so the gc loop in the other folder races for it."""
    first, second = pair
    seconds = 12.0
    loop = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(GC_LOOP),
            str(second.path),
            str(seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        names = []
        for i in range(5):
            code = tmp_path / f"code{i}"
            code.mkdir()
            (code / "say.py").write_text(f"print({str(i)!r})\n")  # as _submit
            _, folder = take_snapshot(code, first.path / "snapshots")
            name = folder.name
            publish_snapshots(first, [f"snapshots/{name}"])
            _submit(first, code, str(i))  # the same content: the same hash
            names.append(name)
            present = _stored(first, "dataferry/snapshots")
            assert name in present, f"run {i}'s snapshot was collected"
    finally:
        out, _ = loop.communicate(timeout=seconds + 60)
    assert loop.returncode == 0
    assert int(out.strip()) > 0
    assert sorted(names) == sorted(set(_stored(first, "dataferry/snapshots")))


@pytest.mark.server
def test_gc_on_azurite_lists_and_deletes_through_the_commit_marker(
    tmp_path: Path,
    catalog_url: str,
    azurite: Azurite,
    blob_container: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    first = Workspace.create(
        "team", tmp_path / "a", catalog_url=catalog_url, show_output=False
    )
    second = Workspace.create(
        "team", tmp_path / "b", catalog_url=catalog_url, show_output=False
    )
    try:
        Datastore.register_azure_blob_container(
            first,
            "team_blob",
            blob_container,
            ACCOUNT,
            account_key_env=KEY_ENV,  # each folder reads the key from its own env
            protocol="http",
            endpoint=f"127.0.0.1:{azurite.port}",
            create_if_not_exists=True,
        )
        first.set_default_datastore("team_blob")
        _orphan_snapshot(first)
        _orphan_logs(first, tmp_path)
        location = first.get_default_datastore().location
        marker = location.fs.size(
            location.full_path(f"dataferry/snapshots/{ORPHAN}/{MARKER}")
        )

        listed = gc(second, older_than="1d", dry_run=True).shared
        assert [(i.kind, i.size_bytes) for i in listed] == [
            (SNAPSHOT, len(CODE) + marker),
            (LOG, 5),
        ]
        gc(second, older_than="1d")

        assert location.staging.tree_signatures(f"dataferry/snapshots/{ORPHAN}") is None
        assert _stored(first, "dataferry/snapshots") == []
        assert _stored(first, "dataferry/logs") == []
    finally:
        first.close()
        second.close()
