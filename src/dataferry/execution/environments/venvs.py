"""Virtual environments built once per requirement list and cached in the workspace.

Layout under ``<workspace>/environments``: ``builds/<key>-<token>/`` holds a venv;
``<key>`` is a symlink to the finished one, made last (``os.replace``), so a build that
crashes never appears under its real name; ``<key>.lock`` serialises builders across
processes (``flock``: released if the builder dies); ``logs/<key>.log`` keeps pip's
output. The venv lives at its final path from the start: pip writes absolute paths
(script shebangs), so a venv cannot be renamed once built.

The venv has no pip and no copy of dataferry: a ``.pth`` file adds this interpreter's
site-packages after the venv's own, so the step imports dataferry (and pip runs) from
there, while a package installed in the venv wins over this interpreter's copy. Pip
gets dataferry's own requirements as constraints, so nothing it installs can replace
the numpy or pyarrow dataferry runs with. When the install fails, exact pins that do not
install on this Python are replaced (``pin_fallback``) and it is tried once more; the
replacements are kept in the finished venv's ``dataferry-environment.json``. It is a plain ``pip install`` run in the
venv: the machine's pip configuration (index, find-links, constraints) applies.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import site
import subprocess
import sys
import sysconfig
import time
import venv
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dataferry.errors import EnvironmentBuildError
from dataferry.execution.environments.pin_fallback import (
    PinReplacement,
    replace_uninstallable,
)
from dataferry.execution.environments.requirements import constraints
from dataferry.storage.integrity import remove_tree

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from dataferry.execution.environments.requirements import Resolution

READY = "dataferry-environment.json"  # written last in a finished venv
_SHOWN = ("Collecting", "Downloading", "Installing", "Successfully", "ERROR")


def cached_python(root: Path, key: str) -> Path | None:
    """The interpreter of the finished venv ``key``, or None if there is none yet."""
    link = root / key
    return _python(link) if (link / READY).is_file() else None


def ensure_venv(
    root: Path, resolution: Resolution, name: str | None, report: Callable[[str], None]
) -> Path:
    """The interpreter of the venv for ``resolution``, built now if it is not cached.

    Args:
        root: the workspace's ``environments`` folder.
        resolution: what to install (``resolution.key`` names the venv).
        name: the environment's name, for messages.
        report: called with each progress line (pip's ``Collecting ...``).

    Raises:
        EnvironmentBuildError: pip could not install a requirement (names it, with
            pip's answer and the log's path), or the venv could not be made.
        PinNotInstallableError: an exact pin does not install on this Python and no
            version may replace it (names the package and the index's answer).
    """
    key = resolution.key
    found = cached_python(root, key)
    if found is not None:
        return found
    (root / "builds").mkdir(parents=True, exist_ok=True)
    with _locked(root / f"{key}.lock", report):
        found = cached_python(root, key)  # another process built it while we waited
        if found is not None:
            return found
        for half in (root / "builds").glob(f"{key}-*"):
            remove_tree(str(half))  # a crashed build's (we hold the lock)
        build = root / "builds" / f"{key}-{secrets.token_hex(4)}"
        try:
            _build(build, root / "logs" / f"{key}.log", resolution, name, report)
        except BaseException:
            remove_tree(str(build))
            raise
        temporary = root / f".{key}.{secrets.token_hex(4)}"
        os.symlink(Path("builds") / build.name, temporary)
        os.replace(temporary, root / key)
    return _python(root / key)


@contextmanager
def _locked(path: Path, report: Callable[[str], None]) -> Iterator[None]:
    with open(path, "a+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            report("waiting for another process that builds this environment")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build(
    build: Path,
    log_path: Path,
    resolution: Resolution,
    name: str | None,
    report: Callable[[str], None],
) -> None:
    started = time.monotonic()
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(build)
    packages = Path(
        sysconfig.get_path("purelib", vars={"base": str(build), "platbase": str(build)})
    )
    (packages / "_dataferry_base.pth").write_text(_base_paths(), "utf-8")
    (build / "requirements.txt").write_text("\n".join(resolution.install) + "\n")
    (build / "constraints.txt").write_text("\n".join(constraints()) + "\n")
    report(f"building environment '{name}': {', '.join(resolution.install)}")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    code, answer = _pip_install(build, log_path, report)
    uninstallable: list[PinReplacement] = []
    if code != 0:  # an old pin with no wheel for this Python is the usual cause
        install, uninstallable = replace_uninstallable(
            _python(build),
            resolution.install,
            log_path,
            report,
            f"environment '{name}'",
        )
        if uninstallable:
            (build / "requirements.txt").write_text("\n".join(install) + "\n")
            code, answer = _pip_install(build, log_path, report)
    if code != 0:
        raise EnvironmentBuildError(_failure(name, resolution, answer, log_path))
    ready = {
        "name": name,
        "install": list(resolution.install),
        "replaced": [list(r) for r in resolution.replaced],
        "uninstallable": [[r.asked, r.used, r.why] for r in uninstallable],
        "base": sys.executable,
        "seconds": round(time.monotonic() - started, 3),
    }
    (build / READY).write_text(json.dumps(ready, indent=2))


def built_replacements(root: Path, key: str) -> list[PinReplacement]:
    """The pins the finished venv ``key`` replaced because they do not install on
    this Python (``pin_fallback``); empty if it replaced none or is not built."""
    try:
        ready = json.loads((root / key / READY).read_text("utf-8"))
    except FileNotFoundError:
        return []
    return [PinReplacement(*row) for row in ready.get("uninstallable", [])]


def _base_paths() -> str:
    """The ``.pth`` lines that add this interpreter's site folders (and the ``.pth``
    files in them, such as an editable install's) after the venv's own."""
    folders = [*site.getsitepackages()]
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        folders.append(site.getusersitepackages())
    return "".join(
        f"import site; site.addsitedir({folder!r})\n"
        for folder in folders
        if os.path.isdir(folder)
    )


def _pip_install(
    build: Path, log_path: Path, report: Callable[[str], None]
) -> tuple[int, list[str]]:
    """Run pip in the venv; returns its exit code and its ``ERROR`` lines."""
    argv = [
        str(_python(build)),
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "-r",
        str(build / "requirements.txt"),
        "-c",
        str(build / "constraints.txt"),
    ]
    answer: list[str] = []
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n")
        with subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PIP_NO_INPUT": "1"},
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                text = line.strip()
                if text.startswith(_SHOWN):
                    report(text.split(" (from -r ")[0])  # not the temp file's path
                if text.startswith("ERROR"):
                    answer.append(text)
        return proc.returncode, answer


def _failure(
    name: str | None, resolution: Resolution, answer: list[str], log_path: Path
) -> str:
    missing = [
        line.rsplit(" for ", 1)[-1]
        for line in answer
        if "No matching distribution found for" in line
    ]
    what = ", ".join(
        missing or [r for r in resolution.install if not r.startswith("-")]
    )
    told = "\n".join(f"  {line}" for line in answer) or "  (pip said no more)"
    return (
        f"environment '{name}' cannot be built: pip could not install {what}. "
        f"pip's answer:\n{told}\nThe full log is {log_path}. Fix the requirement (or "
        "the index pip uses: see 'pip config list') and submit again."
    )


def _python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
