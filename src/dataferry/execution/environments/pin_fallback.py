"""Exact pins that cannot be installed on this Python, replaced by the nearest version
the index offers that installs here.

Old v1 specifications pin old versions exactly (``scikit-learn==0.22.1``) that have no
wheel for a new Python and whose sdist no longer builds. A program that ran on Azure
must still run here, so after a failed install each pin is checked: kept if the index
offers it and it installs (a compatible wheel, or an sdist that builds), else replaced
by the nearest offered version that does: the same major.minor first (newer patch
releases first, then older ones), else the nearest newer. A pin of a series
(``==0.22.*``, conda's ``=0.22``, ``~=0.22.1``) is kept when the version pip picks from
it installs; else its other versions are tried, newest first, then newer ones. Never an older
major.minor: an API the program relies on may not exist there yet. A pin nothing can
replace is ``PinNotInstallableError``, naming the package and the index's answer.

Everything is asked of pip in the venv being built (its Python's tags), so the
machine's pip configuration (index, find-links) applies; pip's output goes to the
build log.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from dataferry.errors import PinNotInstallableError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

# an sdist build can take minutes: at most this many are tried per pin (wheels are free)
MAX_SDIST_BUILDS = 4


@dataclass(frozen=True)
class PinReplacement:
    """``asked`` (``'pkg==1.0.0'``) was replaced by ``used`` (``'pkg==1.0.2'``)
    because of ``why``."""

    asked: str
    used: str
    why: str


@dataclass(frozen=True)
class _Offer:
    """What the index offers for one name: every version, those with a wheel for this
    Python, and pip's answer when it offers none."""

    versions: tuple[Version, ...]
    wheels: frozenset[Version]
    answer: str


def replace_uninstallable(
    python: Path,
    install: Sequence[str],
    log_path: Path,
    report: Callable[[str], None],
    where: str,
) -> tuple[list[str], list[PinReplacement]]:
    """``install`` with each pin (one version or one series) that cannot be installed
    by ``python``'s pip replaced, extras and markers kept; and the replacements made.

    Args:
        python: the interpreter of the venv being built (pip runs with it).
        install: the requirement lines (and pip options) the build installs.
        log_path: the build log; pip's output is appended.
        report: called with a line for each pin checked and replaced.
        where: ``"environment 'NAME'"``, for the error.

    Raises:
        PinNotInstallableError: a pinned version does not install here, and no version
            in the same major.minor or newer does.
    """
    lines: list[str] = []
    replaced: list[PinReplacement] = []
    for line in install:
        pin = _pin(line)
        found = None
        if pin is not None:
            found = _check(python, line, pin, log_path, report, where)
        if found is not None:
            replaced.append(found)
            report(f"pin '{found.asked}' replaced by '{found.used}' ({found.why})")
        lines.append(found.used if found is not None else line)
    return lines, replaced


@dataclass(frozen=True)
class _Pin:
    """A requirement on one version (``==1.0.0``) or one series (``==1.0.*``,
    ``~=1.0.2``, what conda's ``=1.0`` becomes): ``base`` is the version or the
    series' first one; ``text`` says it in messages."""

    req: Requirement
    base: Version
    exact: bool
    text: str


def _pin(line: str) -> _Pin | None:
    """The pin ``line`` asks for, or None (no version named, a range, a URL)."""
    try:
        req = Requirement(line)
    except InvalidRequirement:
        return None  # a pip option, a path: not a pin
    specs = list(req.specifier)
    if req.url or len(specs) != 1 or specs[0].operator not in ("==", "===", "~="):
        return None
    version, series = specs[0].version, specs[0].operator == "~="
    if version.endswith(".*"):
        version, series = version[:-2], True
    try:
        base = Version(version)
    except InvalidVersion:
        return None  # a legacy version: pip alone decides
    text = str(specs[0]).removeprefix("==") if series else version
    return _Pin(req, base, not series, text)


def _check(
    python: Path,
    line: str,
    pin: _Pin,
    log_path: Path,
    report: Callable[[str], None],
    where: str,
) -> PinReplacement | None:
    """None if the pin installs here, else its replacement.

    Raises:
        PinNotInstallableError: nothing can replace it.
    """
    name = pin.req.name
    report(f"checking whether '{line}' installs on Python {_python_version()}")
    probe = _Probe(python, name, _offered(python, name, log_path), log_path)
    candidates = _candidates(pin, probe.offer.versions)
    first = pin.base if pin.exact else (candidates[:1] or [pin.base])[0]
    if probe.installs(first, counted=False):  # what pip itself picks installs
        return None
    for candidate in candidates:
        if candidate != first and probe.installs(candidate):
            why = f"{pin.text} cannot be installed on Python {_python_version()}: "
            return PinReplacement(
                line, _pinned(pin.req, candidate), why + probe.failures[0]
            )
    raise PinNotInstallableError(_refusal(line, pin.base, probe, where))


class _Probe:
    """Tries versions of one package; keeps why each failed."""

    def __init__(self, python: Path, name: str, offer: _Offer, log_path: Path):
        self.python = python
        self.name = name
        self.offer = offer
        self.log_path = log_path
        self.failures: list[str] = []
        self._builds = 0

    def installs(self, version: Version, *, counted: bool = True) -> bool:
        """Whether ``name==version`` installs here: offered with a wheel for this
        Python, or its sdist builds (``counted`` builds are at most
        ``MAX_SDIST_BUILDS``). Why it does not is added to ``failures``."""
        if version not in self.offer.versions:
            self.failures.append(f"the index does not offer {version} for this Python")
            return False
        if version in self.offer.wheels:
            return True
        if counted and self._builds >= MAX_SDIST_BUILDS:
            self.failures.append(f"{version}: its sdist was not tried")
            return False
        self._builds += counted
        spec = f"{self.name}=={version}"
        code, _ = _pip(self.python, ["wheel", "--no-deps", spec], self.log_path)
        if code != 0:
            self.failures.append(f"{version} has no wheel for it and its sdist fails")
        return code == 0


def _pinned(req: Requirement, version: Version) -> str:
    """``req`` pinned to ``version``, its extras and marker kept."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    marker = f"; {req.marker}" if req.marker else ""
    return f"{req.name}{extras}=={version}{marker}"


def _candidates(pin: _Pin, versions: Sequence[Version]) -> list[Version]:
    """Replacements in the order they are tried. One version: the same major.minor
    newer then older, nearest first. A series: its versions, newest first (pip's own
    choice first). Then newer major.minor releases, nearest first."""
    minor = pin.base.release[:2]
    later = sorted(v for v in versions if v.release[:2] > minor)
    if not pin.exact:
        within = sorted(
            (v for v in versions if pin.req.specifier.contains(v)), reverse=True
        )
        return within + [v for v in later if v not in within]
    same = [v for v in versions if v.release[:2] == minor and v != pin.base]
    return (
        sorted(v for v in same if v > pin.base)
        + sorted((v for v in same if v < pin.base), reverse=True)
        + later
    )


def _offered(python: Path, name: str, log_path: Path) -> _Offer:
    """What the index offers ``name`` for this Python (pip's ``index versions``)."""
    code, out = _pip(python, ["index", "versions", "--json", name], log_path)
    if code != 0:
        errors = [line for line in out.splitlines() if line.startswith("ERROR")]
        return _Offer((), frozenset(), " ".join(errors) or f"pip exited with {code}")
    versions = _versions(out)
    binary = ["index", "versions", "--json", "--only-binary=:all:", name]
    code, out = _pip(python, binary, log_path)
    wheels = frozenset(_versions(out)) if code == 0 else frozenset()
    ordered = tuple(sorted(versions))
    return _Offer(ordered, wheels, _listed(ordered))


def _versions(out: str) -> list[Version]:
    """The versions in ``pip index versions --json``'s answer (warnings around it
    left out)."""
    found = [line for line in out.splitlines() if line.startswith("{")]
    return [Version(v) for v in json.loads(found[0])["versions"]] if found else []


def _pip(python: Path, args: list[str], log_path: Path) -> tuple[int, str]:
    """Run ``python -m pip ARGS`` (wheels built into a scratch folder); its output is
    appended to the build log and returned."""
    with tempfile.TemporaryDirectory(prefix="dataferry-pin-") as scratch:
        extra = ["-w", scratch] if args[0] == "wheel" else []
        argv = [str(python), "-m", "pip", *args, *extra]
        argv += ["--disable-pip-version-check", "--no-input"]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n== {' '.join(argv)}\n{done.stdout}{done.stderr}")
    return done.returncode, done.stdout + done.stderr


def _refusal(line: str, asked: Version, probe: _Probe, where: str) -> str:
    since = ".".join(str(n) for n in asked.release[:2])
    return (
        f"{where} cannot be built: '{line}' does not install on Python "
        f"{_python_version()}, and no version of '{probe.name}' in {since} or newer "
        f"does. The index's answer: {probe.offer.answer}. Tried: "
        f"{'; '.join(probe.failures)}. The full log is {probe.log_path}. Pin a version "
        "that supports this Python (or point pip at an index that has one: see 'pip "
        "config list') and submit again."
    )


def _listed(versions: Sequence[Version]) -> str:
    """``'the index offers 1.0, 1.1, 2.0'``; a long list elided in the middle."""
    shown = [str(v) for v in versions]
    if len(shown) > 8:
        shown = [*shown[:3], "...", *shown[-5:], f"({len(versions)} in all)"]
    return "the index offers " + ", ".join(shown)


def _python_version() -> str:
    return ".".join(str(n) for n in sys.version_info[:2])
