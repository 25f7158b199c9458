"""Chromium for the page's browser tests: the Debian package, installed through
apt-get when missing (the tests run as root on Debian 12, as CI does), driven by
Playwright with ``executable_path`` (never ``playwright install``: it downloads a
browser, which fails offline).

Imported as ``servers.chromium``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from servers.install_lock import installing

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class ChromiumUnavailable(RuntimeError):
    """Chromium could not be installed (not root, no apt-get, apt-get failed)."""


def chromium() -> Path:
    """The Chromium executable, installed first if missing.

    Raises:
        ChromiumUnavailable: not root, or apt-get failed.
    """
    if CHROMIUM.exists():
        return CHROMIUM
    with installing("chromium"):  # two apt-get runs at once: one fails on dpkg's lock
        if not CHROMIUM.exists():
            _install()
    return CHROMIUM


def _install() -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ChromiumUnavailable(
            f"{CHROMIUM} is missing and apt-get cannot install it here: install it "
            "(apt-get install -y chromium) or run the tests as root on Debian."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=900, check=False, env=env
        )
        if done.returncode != 0:
            raise ChromiumUnavailable(f"{' '.join(args)} failed:\n{done.stderr}")
    if not CHROMIUM.exists():
        raise ChromiumUnavailable(f"apt-get installed chromium but not {CHROMIUM}")
