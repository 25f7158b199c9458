"""Snapshots of step source folders: copied once per content, immutable afterwards.

Files matched by ``.amlignore`` (or, without one, ``.gitignore``) are left out, as in
Azure ML. A snapshot is written under a temporary name and renamed into place, so a
crash never leaves a half snapshot under its real name.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol

from dataferry.errors import SnapshotMissingError, StepDefinitionError

_ALWAYS_IGNORED = (
    ".git/",
    "__pycache__/",
    ".dataferry/",
    ".azureml/",
    ".venv/",
    "*.pyc",
)


class IgnoreRules(Protocol):
    """What decides whether a path of a source folder is left out of its snapshot."""

    def match_file(self, file: str) -> bool:
        """True if ``file`` (relative, ``/``-separated, a folder ending in ``/``) is
        left out."""


class _AlwaysIgnored:
    """``_ALWAYS_IGNORED`` alone, as git would match it, without pathspec (which costs
    tens of milliseconds to import): for a folder with no ``.amlignore`` or
    ``.gitignore``, the common case. A pattern with no inner slash matches at any depth;
    ``name/`` matches folders only; whatever is inside an ignored folder is ignored."""

    _FOLDERS = frozenset(p[:-1] for p in _ALWAYS_IGNORED if p.endswith("/"))
    _SUFFIXES = tuple(p[1:] for p in _ALWAYS_IGNORED if p.startswith("*"))

    def match_file(self, file: str) -> bool:
        parts = file.rstrip("/").split("/")
        last = len(parts) - 1
        for i, part in enumerate(parts):
            if part.endswith(self._SUFFIXES):
                return True
            if part in self._FOLDERS and (i < last or file.endswith("/")):
                return True
        return False


def ignore_spec(folder: Path) -> IgnoreRules:
    """The ignore rules of a source folder (``.amlignore`` wins over ``.gitignore``)."""
    lines = list(_ALWAYS_IGNORED)
    for name in (".amlignore", ".gitignore"):
        rules = folder / name
        if rules.is_file():
            lines += rules.read_text("utf-8", errors="replace").splitlines()
            break
    else:
        return _AlwaysIgnored()
    import pathspec

    # GitIgnoreSpec: git's own rules, and no DeprecationWarning from pathspec >= 1.0
    return pathspec.GitIgnoreSpec.from_lines(lines)


def source_files(folder: Path) -> list[str]:
    """The relative paths a snapshot of ``folder`` holds, sorted.

    Raises:
        StepDefinitionError: the folder is missing or cannot be read.
    """
    if not folder.is_dir():
        raise StepDefinitionError(
            f"source_directory {folder} does not exist or is not a folder"
        )
    spec = ignore_spec(folder)
    found: list[str] = []
    try:
        # a linked folder is part of the snapshot, as a linked file is (both are copied)
        for dirpath, dirs, files in os.walk(folder, onerror=_raise, followlinks=True):
            rel_dir = os.path.relpath(dirpath, folder)
            rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
            dirs[:] = sorted(d for d in dirs if not spec.match_file(rel_dir + d + "/"))
            _check_no_loop(folder, dirpath, dirs, rel_dir)
            for name in files:
                rel = rel_dir + name
                if not spec.match_file(rel):
                    found.append(rel)
    except OSError as exc:
        raise StepDefinitionError(
            f"cannot read source_directory {folder}: {exc}"
        ) from exc
    return sorted(found)


def _raise(exc: OSError) -> None:
    raise exc


def _check_no_loop(folder: Path, dirpath: str, dirs: list[str], rel_dir: str) -> None:
    """Refuse a linked folder that points at a folder the walk is already inside."""
    links = [name for name in dirs if os.path.islink(os.path.join(dirpath, name))]
    if not links:
        return
    here = os.path.realpath(dirpath)
    above = {os.path.realpath(folder)}  # every folder on the way down, resolved
    prefix = folder
    for part in Path(os.path.relpath(dirpath, folder)).parts:
        prefix = prefix / part
        above.add(os.path.realpath(prefix))
    for name in links:
        target = os.path.realpath(os.path.join(dirpath, name))
        if target in above or here.startswith(target.rstrip(os.sep) + os.sep):
            raise StepDefinitionError(
                f"source_directory {folder}: the link {rel_dir}{name} points at {target}, "
                "a folder that contains it, so the snapshot would never end; remove the "
                "link or list it in .amlignore"
            )


def file_hashes(folder: Path, files: list[str]) -> dict[str, str]:
    """``{relative path: blake3 of its bytes}`` for every file.

    Raises:
        StepDefinitionError: a file cannot be read.
    """
    from dataferry.storage.hashing import hash_file

    hashes = {}
    for rel in files:
        try:
            hashes[rel] = hash_file(str(folder / rel))
        except OSError as exc:
            raise StepDefinitionError(f"cannot read {folder / rel}: {exc}") from exc
    return hashes


def manifest_digest(hashes: dict[str, str]) -> str:
    """One digest over (path, hash) pairs: equal exactly when the snapshots are equal."""
    from dataferry.storage.hashing import hash_bytes

    return hash_bytes(json.dumps(sorted(hashes.items())).encode())


def take_snapshot(folder: Path, store: Path) -> tuple[str, Path]:
    """Copy ``folder`` (minus ignored files) into ``store/<hash>``; return (hash, path).

    The per-file hashes are kept beside it (``<hash>.manifest.json``), so a rerun can say
    which source file changed.
    """
    files = source_files(folder)
    hashes = file_hashes(folder, files)
    digest = manifest_digest(hashes)
    target = store / digest[:32]
    if target.is_dir():
        return digest, target
    import shutil  # here: a submit whose snapshot exists needs none of it

    tmp = store / f".{digest[:32]}.{os.getpid()}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    for rel in files:
        dst = tmp / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / rel, dst)
    tmp.mkdir(parents=True, exist_ok=True)
    manifest = store / f"{digest[:32]}.manifest.json"
    manifest.write_text(json.dumps(hashes, indent=0, sort_keys=True))
    try:
        os.rename(tmp, target)
    except OSError:  # another submit wrote the same snapshot first: same content
        shutil.rmtree(tmp, ignore_errors=True)
    return digest, target


def read_manifest(snapshot: Path) -> dict[str, str]:
    """The per-file hashes of a snapshot folder (empty if the manifest is gone)."""
    try:
        data: dict[str, str] = json.loads(
            snapshot.with_name(snapshot.name + ".manifest.json").read_text()
        )
    except (OSError, ValueError):
        return {}
    return data


def snapshot_folder(workspace_folder: Path, stored: str, step: str) -> Path:
    """The snapshot folder a plan names (relative to the workspace folder, or absolute
    in plans written before paths were relative), checked to be on this machine.

    Raises:
        SnapshotMissingError: the folder is not here (another workspace folder took it).
    """
    folder = workspace_folder / stored
    if not folder.is_dir():
        raise SnapshotMissingError(
            f"step '{step}': its source snapshot '{stored}' is not in this workspace "
            f"folder ({workspace_folder}); the run was submitted from another folder "
            "sharing the catalog. Resume or rerun it there, or submit the pipeline "
            "again from here."
        )
    return folder
