"""Where a dataset's files are: the ``path`` argument of the factories, and resolving it.

A source is a plain dict so a definition serialises to JSON:
``{"datastore": name, "path": p}``, ``{"url": "https://..."}`` or ``{"local": "/abs"}``.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from dataferry._extras import protocol_hint
from dataferry._record import field, record
from dataferry.data.datapath import datastore_path, resolve_datastore
from dataferry.data.listing_scope import listed_once
from dataferry.data.url_credentials import datastore_location_for_url
from dataferry.errors import (
    DamagedDataError,
    DatasetValidationError,
    PathNotFoundError,
    StorageError,
)
from dataferry.storage import StorageLocation
from dataferry.storage.location import has_glob
from dataferry.storage.paths import relative_below

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dataferry.data.datastore import Datastore
    from dataferry.data.workspace import Workspace
    from dataferry.storage.read_pin import ReadPin

Source = dict[str, str]

_HTTP = ("http://", "https://")


@record(frozen=True)
class ResolvedFile:
    """One file of a dataset: where it is, and its path as the dataset shows it."""

    location: StorageLocation
    full: str
    display: str  # relative to the common base of the sources, starting with "/"
    # the commit markers its listing went through (None: a URL, nothing to check)
    pin: ReadPin | None = field(default=None, compare=False, repr=False)

    @property
    def local_path(self) -> str | None:
        """The path on this machine, if the file is on a local filesystem (zero-copy)."""
        return self.location.local_path(self.full)


def parse_sources(path: Any) -> tuple[list[Source], Workspace | None]:
    """Turn a factory's ``path`` argument into sources, and the workspace they need.

    Datastore paths are normalised here (``a/./b`` is ``a/b``). A datastore given by
    name, as in ``('store', 'path')``, is looked up in the workspace of the other
    datastores given, or else in the one ``Workspace.from_config()`` finds.

    Raises:
        TypeError: an item is not a DataPath, DataReference, (Datastore or datastore
            name, path) tuple, URL or local path.
        DatastoreNotFoundError: a datastore given by name is not registered.
        DatastorePathError: a datastore path leaves its datastore's root.
        DatasetValidationError: the datastores belong to different workspaces.
    """
    items = path if isinstance(path, list) else [path]
    if not items:
        raise DatasetValidationError(
            "path is empty: give at least one file, folder or glob"
        )
    pending = [_classify(item) for item in items]
    known = [p.workspace for p in pending if isinstance(p, _StorePath)]
    sources: list[Source] = []
    workspaces: list[Workspace] = []
    for item in pending:
        if not isinstance(item, _StorePath | _NamedPath):
            sources.append(item)
            continue
        store = (
            item.store
            if isinstance(item, _StorePath)
            else resolve_datastore(item.name, known[0] if known else None)
        )
        rel = datastore_path(item.rel, store.name)
        sources.append({"datastore": store.name, "path": rel})
        workspaces.append(store.workspace)
    if any(ws.path != workspaces[0].path for ws in workspaces):
        raise DatasetValidationError(
            "all datastores of one dataset must be in the same workspace"
        )
    return sources, (workspaces[0] if workspaces else None)


@record(frozen=True)
class _StorePath:
    """A path on a Datastore object."""

    store: Datastore
    rel: object

    @property
    def workspace(self) -> Workspace:
        return self.store.workspace


@record(frozen=True)
class _NamedPath:
    """A path on a datastore given by its name, looked up once the workspace is known."""

    name: str
    rel: object


def _classify(item: Any) -> _StorePath | _NamedPath | Source:
    """What one item of ``path`` is; URLs and local paths become sources at once."""
    from dataferry.data.datapath import DataPath, DataReference
    from dataferry.data.datastore import Datastore

    if isinstance(item, DataPath | DataReference):
        return _StorePath(item.datastore, item.path_on_datastore or "/")
    if isinstance(item, tuple):
        if len(item) != 2 or not isinstance(item[0], Datastore | str):
            raise TypeError(
                "a tuple in `path` must be (Datastore or datastore name, 'path/on/it'), "
                f"not a {len(item)}-tuple of "
                f"({', '.join(type(x).__name__ for x in item)})."
            )
        rel = "/" if item[1] is None else item[1]
        if isinstance(item[0], str):
            return _NamedPath(item[0], rel)
        return _StorePath(item[0], rel)
    if isinstance(item, str) and "://" in item:
        return {"url": item}
    if isinstance(item, str | PurePath):
        return {"local": os.path.abspath(os.path.expanduser(str(item)))}
    raise TypeError(
        f"Invalid argument type for `path`: {type(item).__name__}. Use a DataPath, "
        "a (Datastore, 'path') tuple, a URL or a local path."
    )


def _base(pattern: str) -> str:
    """The folder a pattern's files are shown relative to."""
    if has_glob(pattern):
        parts = pattern.split("/")
        fixed = []
        for part in parts:
            if has_glob(part):
                break
            fixed.append(part)
        return "/".join(fixed)
    return pattern


def _location_for(
    source: Source, workspace: Workspace | None, cache: dict[str, StorageLocation]
) -> tuple[StorageLocation, str]:
    """The location a source lives in and the pattern to resolve there."""
    import fsspec
    from fsspec.core import split_protocol

    if "datastore" in source:
        if workspace is None:
            raise DatasetValidationError(
                f"dataset reads datastore '{source['datastore']}' but has no workspace; "
                "get it with Dataset.get_by_name(ws, ...) or build it from a DataPath."
            )
        name = source["datastore"]
        if name not in cache:
            from dataferry.data.datastore import Datastore

            cache[name] = Datastore.get(workspace, name).location
        return cache[name], source["path"]
    if "local" in source:
        from dataferry.data.machine_paths import resolved_source_path

        if "local" not in cache:
            cache["local"] = StorageLocation("local", fsspec.filesystem("file"), "/")
        path = resolved_source_path(workspace, source["local"])
        return cache["local"], path.lstrip("/")
    url = source["url"]
    served = datastore_location_for_url(url, workspace)
    if served is not None:  # the datastore's credentials and endpoint
        return served
    protocol = split_protocol(url)[0]
    assert protocol is not None
    if protocol not in cache:
        try:
            cache[protocol] = StorageLocation(protocol, fsspec.filesystem(protocol), "")
        except (ValueError, ImportError) as exc:
            raise DatasetValidationError(
                f"cannot read {url}: no fsspec backend for {protocol!r} ({exc})"
                + protocol_hint(protocol)
            ) from exc
    return cache[protocol], url


def resolve_sources(
    sources: Sequence[Source], workspace: Workspace | None
) -> list[ResolvedFile]:
    """List the files the sources name, in a stable order (listed once per
    ``listing_scope.one_listing`` block).

    Raises:
        PathNotFoundError: a path or glob matches no file (the message names it).
    """
    where = str(workspace.path) if workspace is not None else None
    return listed_once(sources, where, lambda: _resolve(sources, workspace))


def _resolve(
    sources: Sequence[Source], workspace: Workspace | None
) -> list[ResolvedFile]:
    cache: dict[str, StorageLocation] = {}
    per_source: list[tuple[StorageLocation, list[str], str]] = []
    pins: dict[int, ReadPin] = {}  # per source: what its readers check after reading
    for source in sources:
        loc, pattern = _location_for(source, workspace, cache)
        if "url" in source and source["url"].startswith(_HTTP):
            files = [pattern]  # one file per URL; query strings are not globs
            base = posixpath.dirname(pattern.split("?", 1)[0])
        else:
            files, pins[len(per_source)] = loc.resolve_pinned(pattern)
            if "datastore" in source and workspace is not None:
                refuse_damaged(workspace, loc, files)
            # resolve() gives paths without a protocol (file:///x -> /x): compare alike
            full = loc._strip(loc.full_path(pattern))
            base = _base(full)
            if len(files) == 1 and files[0] == full:
                base = posixpath.dirname(full)
        per_source.append((loc, files, base))
    same_place = len({loc.name for loc, _, _ in per_source}) == 1
    common = (
        posixpath.commonpath([b for _, _, b in per_source])
        if same_place
        and all(
            b.startswith("/") == per_source[0][2].startswith("/")
            for _, _, b in per_source
        )
        else None
    )
    resolved: list[ResolvedFile] = []
    seen: set[tuple[str, str]] = set()
    for index, (loc, files, base) in enumerate(per_source):
        for full in files:
            if (loc.name, full) in seen:
                continue
            seen.add((loc.name, full))
            if common is not None:
                display = "/" + relative_below(full.split("?", 1)[0], common or "/")
            else:
                display = f"/{loc.name}/" + relative_below(
                    full.split("?", 1)[0], base or "/"
                )
            resolved.append(ResolvedFile(loc, full, display, pins.get(index)))
    return resolved


def refuse_damaged(
    workspace: Workspace, location: StorageLocation, files: Sequence[str]
) -> None:
    """Fail if any of ``files`` belongs to a committed output found changed after commit.

    Raises:
        DamagedDataError: the message names the output, its step run and what changed.
    """
    from dataferry.catalog.run_store import RunStore

    for rec in RunStore(workspace.catalog).damaged_outputs(location.name):
        root = location._strip(location.full_path(rec.path)).rstrip("/")
        if any(f == root or f.startswith(root + "/") for f in files):
            raise DamagedDataError(
                f"datastore '{location.name}': '{rec.path}' is output '{rec.name}' of "
                f"step run {rec.step_run_id}, and its files were changed after it was "
                f"committed ({rec.damage}), so it is not read. Run the pipeline again to "
                "write it anew (reuse never serves a damaged output) and read the new "
                "output or dataset version."
            )


def check_http(files: Sequence[ResolvedFile]) -> None:
    """Fail early, with the URL, if an http(s) file cannot be reached."""
    for f in files:
        if f.full.startswith(_HTTP):
            try:
                ok = f.location.fs.exists(f.full)
            except (OSError, StorageError) as exc:
                raise PathNotFoundError(f"cannot reach {f.full}: {exc}") from exc
            if not ok:
                raise PathNotFoundError(f"URL {f.full} does not exist (HTTP 404)")
