"""What a step's fingerprint takes from its interpreter: its version and the
distributions installed where it imports from.

For the interpreter running the driver, the distributions are read from the names of
the ``*.dist-info`` and ``*.egg-info`` folders on ``sys.path``: the packaging spec puts
a distribution's name and version there (``name-version.dist-info``), so one listing
per path entry (about a millisecond) says what parsing every ``METADATA`` file said (65
ms with a hundred distributions, paid by every driver, fully reused runs included).
Only a folder whose name carries no version (``name.egg-info`` of a develop install)
has its metadata parsed (about 10 ms each): once per content of its metadata file in
a process, so the local agent reads them before it forks (``agent._preload``) and its
children, which judge reuse for each submission, do not. Another interpreter is asked
in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from dataferry.storage.hashing import hash_bytes

_METADATA_DIRS = (".dist-info", ".egg-info")
_METADATA_FILES = ("METADATA", "PKG-INFO")
# (folder, its metadata file's bytes) -> the version they state; reading the bytes
# is cheap, parsing them as an email message is not
_READ_VERSIONS: dict[tuple[str, bytes], str] = {}
_OTHER_INTERPRETER = (
    "import sys, json; from importlib import metadata; "
    "print(json.dumps([sys.version, sorted(f\"{d.metadata['Name']}=={d.version}\" "
    "for d in metadata.distributions())]))"
)


def environment_digest(interpreter: str) -> str:
    """A digest of ``interpreter``'s Python version and installed distributions.

    Args:
        interpreter: the path of a Python executable.

    Returns:
        A hex digest; ``unknown:<path>``'s digest when another interpreter cannot say.
    """
    if Path(interpreter).resolve() == Path(sys.executable).resolve():
        return _digest([sys.version, installed(sys.path)])
    out = subprocess.run(
        [interpreter, "-c", _OTHER_INTERPRETER],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return hash_bytes(
        (out.stdout if out.returncode == 0 else f"unknown:{interpreter}").encode()
    )


def installed(path_entries: list[str]) -> list[str]:
    """``name==version`` of every distribution in the folders of ``path_entries``,
    sorted; names lower-cased with ``-`` and ``.`` as ``_`` (as folder names have them).
    Entries that are not folders (a zip, a missing path) are skipped."""
    found = []
    for entry in path_entries:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(_METADATA_DIRS):
                found.append(_name_version(os.path.join(entry or ".", name)))
    return sorted(found)


def _name_version(folder: str) -> str:
    stem = os.path.basename(folder).rsplit(".", 1)[0]
    name, _, rest = stem.partition("-")
    version = rest.split("-", 1)[0]  # an egg's ``-py3.11`` tag is not the version
    if not version:
        version = _metadata_version(folder)
    return f"{name.lower().replace('-', '_').replace('.', '_')}=={version}"


def _metadata_version(folder: str) -> str:
    """The version ``folder``'s metadata file states ("" if none can be read), parsed
    again only when that file's content has changed."""
    key = (folder, b"")
    for leaf in _METADATA_FILES:
        try:
            key = (folder, Path(folder, leaf).read_bytes())
        except OSError:
            continue
        break
    version = _READ_VERSIONS.get(key)
    if version is None:
        try:
            version = metadata.Distribution.at(folder).version or ""
        except OSError:
            version = ""
        _READ_VERSIONS[key] = version
    return version


def _digest(value: object) -> str:
    return hash_bytes(json.dumps(value, separators=(",", ":")).encode())
