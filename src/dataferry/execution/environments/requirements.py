"""What an environment's request needs on this machine: the requirements the current
interpreter lacks, after dataferry's own requirements win over old pins.

The current interpreter serves every requirement it already satisfies (its installed
version is inside the specifier). ``azureml-*`` requirements are satisfied by the
compatibility package. A pin of a package dataferry itself needs (``numpy==1.19.5``,
``pyarrow==3.0``) that the installed version does not satisfy is replaced by the
installed version: the step imports dataferry, which would break under the old one.
What is left is installed into a virtual environment keyed by ``Resolution.key``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

# conda packages with no PyPI distribution: system libraries a wheel bundles itself
_CONDA_ONLY = frozenset(
    {
        "cudatoolkit",
        "cudnn",
        "nccl",
        "libgcc",
        "libgcc-ng",
        "libstdcxx-ng",
        "nomkl",
        "blas",
        "openblas",
        "openssl",
        "ca-certificates",
    }
)
# packaging tools: the build uses this machine's pip
_TOOLS = frozenset({"pip", "setuptools", "wheel", "conda"})
# conda names whose PyPI distribution is named differently
_CONDA_TO_PYPI = {
    "pytorch": "torch",
    "py-xgboost": "xgboost",
    "msgpack-python": "msgpack",
    "pytables": "tables",
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_CONDA_SPEC = re.compile(r"^([A-Za-z0-9_.\-]+)\s*(.*)$")


@dataclass(frozen=True)
class Resolution:
    """How an environment's request is met here.

    ``install``: the requirement lines (and pip options) a virtual environment must get;
    empty when the current interpreter satisfies everything. ``replaced``: ``(asked, used)`` for each pin dataferry's own version replaced.
    ``key``: the hash of what is installed, on which interpreter and installed
    distributions; ``""`` when nothing is installed.
    """

    install: tuple[str, ...]
    replaced: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]
    key: str


def resolve_request(request: dict[str, Any], name: str | None) -> Resolution:
    """What ``request`` (``Environment.request()``) needs on this machine.

    Args:
        request: the pip and conda packages, pip options and Python pin asked for.
        name: the environment's name, for notes.
    """
    where = f"environment '{name}'"
    notes: list[str] = []
    lines = [*_pip_lines(request.get("conda") or [], where, notes)]
    lines += list(request.get("pip") or [])
    install: list[str] = []
    replaced: list[tuple[str, str]] = []
    for line in lines:
        kept = _needed(line.strip(), replaced)
        if kept:
            install.append(kept)
    notes += [
        f"{where}: pin '{asked}' replaced by '{used}' (dataferry itself needs it)"
        for asked, used in replaced
    ]
    if not install:
        return Resolution((), tuple(replaced), tuple(notes), "")
    options = list(request.get("pip_options") or [])
    key = _key(options + install)
    return Resolution(tuple(options + install), tuple(replaced), tuple(notes), key)


def requirement_names(request: dict[str, Any]) -> list[str]:
    """The distribution names ``request`` asks for, as pip would install them
    (conda packages by their PyPI names; ``azureml-*``, which the compatibility
    package serves, and lines pip alone can read, such as URLs, left out)."""
    lines = [*_pip_lines(request.get("conda") or [], "", [])]
    lines += list(request.get("pip") or [])
    names: list[str] = []
    for line in lines:
        try:
            name = canonicalize_name(Requirement(line.strip()).name)
        except InvalidRequirement:
            continue
        if not name.startswith(("azureml-", "azure-ml")) and name not in names:
            names.append(name)
    return names


def _needed(line: str, replaced: list[tuple[str, str]]) -> str | None:
    """The line to install, or None if this interpreter serves it (a replaced pin is
    appended to ``replaced``)."""
    try:
        req = Requirement(line)
    except InvalidRequirement:
        return line  # a URL, a path, an option: only pip can tell
    name = canonicalize_name(req.name)
    if req.marker is not None and not req.marker.evaluate():
        return None  # not for this platform
    if name.startswith(("azureml-", "azure-ml")):
        return None  # the compatibility package
    installed = installed_versions().get(name)
    if installed is not None and req.specifier.contains(installed, prereleases=True):
        return None
    own = own_requirements().get(name)
    if own is not None:
        replaced.append((line, f"{req.name}=={own}"))
        return None
    return line


def _pip_lines(conda: list[str], where: str, notes: list[str]) -> list[str]:
    """Conda specs as pip requirements (same name on PyPI, a few renamed); tools and
    conda-only system libraries are left out, with a note."""
    lines = []
    for spec in conda:
        match = _CONDA_SPEC.match(spec.split("::")[-1].strip())
        if match is None:
            lines.append(spec)
            continue
        name, rest = match.group(1).lower(), match.group(2).strip()
        if name in _TOOLS or name in _CONDA_ONLY:
            what = "this machine's pip builds" if name in _TOOLS else "no PyPI package"
            notes.append(f"{where}: conda package '{spec}' not installed ({what})")
            continue
        lines.append(_CONDA_TO_PYPI.get(name, name) + _pip_version(rest))
    return lines


def _pip_version(conda_version: str) -> str:
    """A conda version spec in pip's syntax: ``=1.2`` -> ``==1.2.*``, ``=1.2.3=build``
    -> ``==1.2.3``, ``1.2`` (space form) -> ``==1.2.*``; ``>=1`` as it is."""
    text = conda_version.strip()
    if not text:
        return ""
    if text[0] in "<>!~" or text.startswith("=="):
        return text
    version = text.lstrip("=").split("=")[0].split()[0]
    if version.endswith("*") or version.count(".") >= 2:
        return f"=={version}"
    return f"=={version}.*"


@functools.cache
def _distributions() -> dict[str, tuple[str, str]]:
    """Canonical name -> (version, metadata folder) of every distribution on
    ``sys.path``, the first one found winning (as imports do).

    Read from the folder names (``six-1.16.0.dist-info``): parsing every ``METADATA``
    file, as ``importlib.metadata`` does, took most of a cached environment's cost.
    """
    found: dict[str, tuple[str, str]] = {}
    for entry in sys.path:
        try:
            listing = os.scandir(entry or ".")
        except OSError:
            continue  # a zip, or a folder that does not exist
        with listing:
            for item in listing:
                if not item.name.endswith((".dist-info", ".egg-info")):
                    continue
                name, _, rest = item.name.rsplit(".", 1)[0].partition("-")
                version = rest.split("-")[0]
                if name and version:
                    found.setdefault(canonicalize_name(name), (version, item.path))
    return found


def installed_versions() -> dict[str, str]:
    """Canonical name -> version of every distribution this interpreter has."""
    return {name: version for name, (version, _) in _distributions().items()}


@functools.cache
def own_requirements() -> dict[str, str]:
    """dataferry and everything it requires (transitively, extras left out), by
    canonical name, at the versions installed here."""
    dists = _distributions()
    found: dict[str, str] = {}
    todo = ["dataferry"]
    while todo:
        name = canonicalize_name(todo.pop())
        if name in found or name not in dists:
            continue
        version, folder = dists[name]
        found[name] = version
        for line in _requires(name, folder):
            marker = line.partition(";")[2]
            if "extra" in marker:
                continue  # only with an extra; parsing these was most of the cost
            if marker and not _applies(line):
                continue
            match = _NAME.match(line)
            if match:
                todo.append(match.group(0))
    return found


def _applies(line: str) -> bool:
    """Whether a requirement's marker holds here (``python_version < '3.12'``)."""
    marker = Requirement(line).marker
    return marker is None or marker.evaluate()


def constraints() -> tuple[str, ...]:
    """dataferry's own requirements pinned at their installed versions, for pip."""
    return tuple(f"{n}=={v}" for n, v in sorted(own_requirements().items()))


def _requires(name: str, folder: str) -> list[str]:
    """The ``Requires-Dist`` lines of a ``.dist-info`` folder's METADATA headers."""
    if not folder.endswith(".dist-info"):
        return list(metadata.requires(name) or [])
    lines = []
    with open(os.path.join(folder, "METADATA"), encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                break  # the headers end; the description follows
            if line.startswith("Requires-Dist:"):
                lines.append(line.partition(":")[2].strip())
    return lines


def _key(install: list[str]) -> str:
    """The hash a built environment is cached under: what it installs, on top of which
    interpreter and which installed distributions (a venv sees them, and pip resolved
    against them)."""
    basis = {
        "interpreter": sys.executable,
        "python": list(sys.version_info[:3]),
        "install": install,
        "installed": sorted(installed_versions().items()),
    }
    return hashlib.sha256(json.dumps(basis).encode()).hexdigest()[:20]
