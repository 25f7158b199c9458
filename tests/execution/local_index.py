"""A package index the tests build themselves: a folder of pure-python wheels and of
sdists that fail to build, served to pip with ``--find-links`` (never PyPI)."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

# an in-tree build backend whose build fails, as an old sdist's does on a new Python
BROKEN_BACKEND = """\
def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    raise RuntimeError("this version does not build on this Python")


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("this version does not build on this Python")
"""

BROKEN_PYPROJECT = """\
[build-system]
requires = []
build-backend = "broken_backend"
backend-path = ["."]
"""


def _digest(data: bytes) -> str:
    raw = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def add_wheel(index: Path, name: str, version: str) -> Path:
    """A ``py3-none-any`` wheel of ``name`` whose module has ``__version__``."""
    module = name.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f"__version__ = {version!r}\n".encode(),
        f"{info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        ).encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = [f"{path},{_digest(data)},{len(data)}" for path, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    index.mkdir(parents=True, exist_ok=True)
    path = index / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


def add_broken_sdist(index: Path, name: str, version: str) -> Path:
    """An sdist of ``name`` whose build fails (its backend raises)."""
    module = name.replace("-", "_")
    top = f"{module}-{version}"
    files = {
        f"{top}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{top}/pyproject.toml": BROKEN_PYPROJECT,
        f"{top}/broken_backend.py": BROKEN_BACKEND,
    }
    index.mkdir(parents=True, exist_ok=True)
    path = index / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, text in files.items():
            data = text.encode()
            entry = tarfile.TarInfo(member)
            entry.size = len(data)
            archive.addfile(entry, io.BytesIO(data))
    return path
