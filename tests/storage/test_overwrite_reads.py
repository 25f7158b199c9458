"""A reader interleaved with an overwrite on an object store sees old or new, whole.

The overwrite publishes file by file onto the old names; the test runs a reader
before every call the publish makes to the store (the store's own filesystem, its
calls observed, nothing answered in its place), on ``memory://``, a ``dir://`` store
and Azurite. A reader that listed before the overwrite either read the old output
whole, or finds its pin changed (``read_pin``); a reader listing at that moment gets
the old output, the new one, or nothing (being committed).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
from staging_backends import BACKENDS, OBJECT_STORES, SERVER_BACKENDS

from dataferry.errors import DamagedDataError, PathNotFoundError
from dataferry.storage import staging_object
from dataferry.storage.commit_marker import MARKER, PENDING, STAGING_DIR
from dataferry.storage.staging import StagedPlace

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from dataferry.storage.location import StorageLocation

OLD = {"a.csv": "old-a", "b.csv": "old-b", "sub/c.csv": "old-c"}
NEW = {"a.csv": "new-a", "b.csv": "new-b", "sub/c.csv": "new-c", "d.csv": "new-d"}


@pytest.fixture(
    params=[
        pytest.param(n, marks=[pytest.mark.server, pytest.mark.slow])
        if n in SERVER_BACKENDS
        else n
        for n in OBJECT_STORES
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageLocation]:
    name = request.param
    if name in SERVER_BACKENDS:
        loc = SERVER_BACKENDS[name](tmp_path, request.getfixturevalue("azurite"))
    else:
        loc = BACKENDS[name](tmp_path)
    yield loc
    if name == "memory" and loc.fs.exists(loc.root):
        loc.fs.rm(loc.root, recursive=True)


def commit(
    loc: StorageLocation, tmp_path: Path, files: dict[str, str], step: str
) -> None:
    folder = loc.staging.stage("data/out", step, "out", tmp_path / step)
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    loc.staging.commit(StagedPlace("data/out", folder, step, "out"), merge=True)


def read(loc: StorageLocation, fulls: list[str]) -> dict[str, str]:
    """``{path below data/out: text}`` of the listed files, read now."""
    base = loc._strip(loc.full_path("data/out"))
    found = {}
    for full in fulls:
        with loc.open(full) as fh:
            found[full[len(base) + 1 :]] = fh.read().decode()
    return found


def state(files: dict[str, str] | None) -> str:
    if files is None:
        return "absent"
    if files == OLD:
        return "old"
    return "new" if files == NEW else f"mix {sorted(files.items())}"


def fresh(loc: StorageLocation) -> str:
    """What a reader listing now and reading at once sees."""
    try:
        fulls, pin = loc.resolve_pinned("data/out")
    except PathNotFoundError:
        return "absent"
    seen = read(loc, fulls)
    return "changed" if pin.changed() else state(seen)


def observe(
    loc: StorageLocation, monkeypatch: pytest.MonkeyPatch, before: Callable[[str], None]
) -> None:
    """Call ``before(what)`` ahead of each write, removal and copy the store is asked
    outside the staging prefix."""
    lock = threading.Lock()

    def wrap(method: str) -> None:
        real = getattr(loc.fs, method)

        def call(path: str, *args: Any, **kwargs: Any) -> Any:
            target = str(args[0]) if method == "copy" else path
            if STAGING_DIR not in target:  # the upload and its clean-up: out of sight
                with lock:
                    before(f"{method} {target.rsplit('/', 1)[-1]}")
            return real(path, *args, **kwargs)

        monkeypatch.setattr(loc.fs, method, call)

    for method in ("pipe_file", "rm_file", "copy"):
        wrap(method)


def test_a_reader_between_publish_steps_sees_old_or_new_never_a_mix(
    store: StorageLocation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit(store, tmp_path, OLD, "step_1")
    listed_before, pin = store.resolve_pinned("data/out")
    # one copy at a time: the points between the publish's calls are the same each run
    monkeypatch.setattr(staging_object, "TRANSFER_THREADS", 1)
    points: list[tuple[str, str, str, str]] = []

    def reader(what: str) -> None:
        early = state(read(store, listed_before))
        verdict = "changed" if pin.changed() else "pinned"
        points.append((what, early, verdict, fresh(store)))

    observe(store, monkeypatch, reader)
    commit(store, tmp_path, NEW, "step_2")
    monkeypatch.undo()

    mixes = [p for p in points if p[1].startswith("mix")]
    assert mixes, "the publish copies onto the old names: an early reader can mix"
    # whatever the early reader read, a mix is always caught by its pin
    assert all(
        verdict == "changed" for _, early, verdict, _ in points if early != "old"
    )
    assert [(what, now) for what, _, _, now in points] == [
        (f"pipe_file {PENDING}", "old"),
        (f"rm_file {MARKER}", "absent"),
        ("copy a.csv", "absent"),
        ("copy b.csv", "absent"),
        ("copy d.csv", "absent"),
        ("copy c.csv", "absent"),  # sub/c.csv
        (f"pipe_file {MARKER}", "absent"),
        (f"rm_file {PENDING}", "absent"),
    ]
    assert pin.changed() == ["data/out"]
    assert fresh(store) == "new"


def test_an_overwrite_whole_between_listing_and_reading_is_caught(
    store: StorageLocation, tmp_path: Path
) -> None:
    commit(store, tmp_path, OLD, "step_1")
    listed, pin = store.resolve_pinned("data/out/*.csv")
    commit(store, tmp_path, {"a.csv": "old-a", "b.csv": "old-b"}, "step_2")

    # the same bytes again, but another commit: the reader cannot know what it read
    assert state(read(store, listed)) == "mix [('a.csv', 'old-a'), ('b.csv', 'old-b')]"
    assert pin.changed() == ["data/out"]


def test_a_marker_listing_a_file_the_store_lacks_is_still_damage(
    store: StorageLocation, tmp_path: Path
) -> None:
    commit(store, tmp_path, OLD, "step_1")
    store.fs.rm_file(store.full_path("data/out/b.csv"))

    with pytest.raises(
        DamagedDataError,
        match=r"datastore 's': the commit marker 'data/out/\.dataferry-committed' "
        r"lists 1 file\(s\) that are not there, such as 'b.csv'",
    ):
        store.resolve_pinned("data/out")


def test_a_local_output_pins_nothing(tmp_path: Path) -> None:
    loc = BACKENDS["local"](tmp_path)
    commit(loc, tmp_path, OLD, "step_1")

    fulls, pin = loc.resolve_pinned("data/out")

    assert sorted(read(loc, fulls).items()) == sorted(OLD.items())
    assert dict(pin.markers) == {}
    assert pin.changed() == []
