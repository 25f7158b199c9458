"""gc of shared snapshots on an object store (Azurite), against what a gc killed
mid-delete leaves and a store that stops answering: a folder left without its commit
marker is never taken as a stored snapshot (a submit of the same content commits it
whole again; an unused one is collected), and a gc that cannot reach the store fails
with a typed error having deleted nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from servers.azurite import ACCOUNT, KEY
from servers.forward import forwarding

from dataferry import Datastore, Workspace
from dataferry.errors import StorageError
from dataferry.execution.lifecycle import gc
from dataferry.execution.shared_snapshots import fetch_snapshot, publish_snapshots
from dataferry.storage.commit_marker import MARKER

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from servers.azurite import Azurite

pytestmark = pytest.mark.server

ORPHAN = "0f" * 32
KEY_ENV = "DATAFERRY_SHARED_GC_KEY"
FILES = {"a.py": b"print('a')", "sub/b.py": b"print('b')"}


@pytest.fixture
def pair(
    tmp_path: Path,
    catalog_url: str,
    azurite: Azurite,
    blob_container: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Workspace, Workspace, int]]:
    """Two folders on one catalog whose default datastore is an Azurite container
    reached through a forwarder (its port is yielded: closing it cuts the store off)."""
    monkeypatch.setenv(KEY_ENV, KEY)
    first = Workspace.create(
        "team", tmp_path / "a", catalog_url=catalog_url, show_output=False
    )
    second = Workspace.create(
        "team", tmp_path / "b", catalog_url=catalog_url, show_output=False
    )
    with forwarding("127.0.0.1", azurite.port) as port:
        Datastore.register_azure_blob_container(
            first,
            "team_blob",
            blob_container,
            ACCOUNT,
            account_key_env=KEY_ENV,
            protocol="http",
            endpoint=f"127.0.0.1:{port}",
            create_if_not_exists=True,
        )
        first.set_default_datastore("team_blob")
        yield first, second, port
    first.close()
    second.close()


def _publish(ws: Workspace) -> str:
    folder = ws.path / "snapshots" / ORPHAN
    for rel, body in FILES.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(body)
    publish_snapshots(ws, [f"snapshots/{ORPHAN}"])
    return f"snapshots/{ORPHAN}"


def _killed_mid_delete(ws: Workspace) -> None:
    """What a gc killed after the marker and one file went leaves: no marker."""
    location = ws.get_default_datastore().location
    full = location.full_path(f"dataferry/snapshots/{ORPHAN}")
    location.fs.rm_file(f"{full}/{MARKER}")
    location.fs.rm_file(f"{full}/files/a.py")
    location.fs.invalidate_cache()


def test_a_submit_after_a_killed_delete_stores_the_snapshot_whole_again(
    pair: tuple[Workspace, Workspace, int],
) -> None:
    first, second, _ = pair
    stored = _publish(first)
    _killed_mid_delete(first)
    location = first.get_default_datastore().location
    assert location.staging.tree_signatures(f"dataferry/snapshots/{ORPHAN}") is None

    publish_snapshots(first, [stored])  # the same content, as a submit does

    listed = location.staging.tree_signatures(f"dataferry/snapshots/{ORPHAN}")
    assert listed is not None
    assert sorted(listed) == ["files/a.py", "files/sub/b.py"]
    fetched = fetch_snapshot(second, stored)
    assert fetched is not None
    assert (fetched / "a.py").read_bytes() == FILES["a.py"]
    assert (fetched / "sub" / "b.py").read_bytes() == FILES["sub/b.py"]


def test_gc_collects_what_a_killed_delete_left_when_unused(
    pair: tuple[Workspace, Workspace, int],
) -> None:
    first, second, _ = pair
    _publish(first)
    _killed_mid_delete(first)

    assert [i.name for i in gc(second, older_than="1d").shared] == [ORPHAN]
    location = first.get_default_datastore().location
    assert not location.fs.exists(location.full_path(f"dataferry/snapshots/{ORPHAN}"))


@pytest.mark.slow  # the store's client retries before it gives up
def test_gc_of_an_unreachable_store_is_a_typed_error_and_deletes_nothing(
    tmp_path: Path,
    catalog_url: str,
    azurite: Azurite,
    blob_container: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("DATAFERRY_STORAGE_RETRY_S", "1")
    ws = Workspace.create(
        "team", tmp_path / "a", catalog_url=catalog_url, show_output=False
    )
    other = Workspace.create(
        "team", tmp_path / "b", catalog_url=catalog_url, show_output=False
    )
    try:
        with forwarding("127.0.0.1", azurite.port) as port:
            Datastore.register_azure_blob_container(
                ws,
                "team_blob",
                blob_container,
                ACCOUNT,
                account_key_env=KEY_ENV,
                protocol="http",
                endpoint=f"127.0.0.1:{port}",
                create_if_not_exists=True,
            )
            ws.set_default_datastore("team_blob")
            _publish(ws)
        # the forwarder is closed: the store does not answer
        with pytest.raises(StorageError, match="default datastore"):
            gc(other, older_than="1d")
    finally:
        ws.close()
        other.close()
    direct = Workspace.from_config(tmp_path / "a")
    try:
        Datastore.register_azure_blob_container(
            direct,
            "direct",
            blob_container,
            ACCOUNT,
            account_key_env=KEY_ENV,
            protocol="http",
            endpoint=f"127.0.0.1:{azurite.port}",
        )
        location = Datastore.get(direct, "direct").location
        assert location.staging.tree_signatures(f"dataferry/snapshots/{ORPHAN}")
    finally:
        direct.close()
