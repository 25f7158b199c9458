"""The environment part of a fingerprint: read from the metadata folders' names."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from dataferry.execution.environment_digest import environment_digest, installed

if TYPE_CHECKING:
    from pathlib import Path


def _site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    for folder in (
        "requests-2.31.0.dist-info",
        "typing_extensions-4.9.0.dist-info",
        "Zope.Interface-6.1-py3.11.egg-info",
        "requests",  # a package, not metadata
    ):
        (site / folder).mkdir(parents=True)
    develop = site / "mytool.egg-info"  # a develop install: no version in its name
    develop.mkdir()
    (develop / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: mytool\nVersion: 0.3\n"
    )
    (site / "notes.egg-info").write_text("")  # an egg-info file (distutils), no version
    return site


def test_installed_reads_names_and_versions_from_folder_names(tmp_path: Path) -> None:
    site = _site(tmp_path)
    entries = [str(site), str(tmp_path / "missing"), str(tmp_path / "lib.zip")]
    (tmp_path / "lib.zip").write_bytes(b"PK")
    assert installed(entries) == [
        "mytool==0.3",
        "notes==",
        "requests==2.31.0",
        "typing_extensions==4.9.0",
        "zope_interface==6.1",
    ]


def test_digest_changes_with_an_install_an_upgrade_and_a_removal(
    tmp_path: Path,
) -> None:
    site = _site(tmp_path)
    sys.path.append(str(site))
    try:
        before = environment_digest(sys.executable)
        assert environment_digest(sys.executable) == before
        (site / "six-1.16.0.dist-info").mkdir()
        installed_one = environment_digest(sys.executable)
        (site / "requests-2.31.0.dist-info").rename(site / "requests-2.32.0.dist-info")
        upgraded = environment_digest(sys.executable)
        (site / "six-1.16.0.dist-info").rmdir()
        removed = environment_digest(sys.executable)
    finally:
        sys.path.remove(str(site))
    assert len({before, installed_one, upgraded, removed}) == 4


def test_an_interpreter_that_cannot_say_gets_a_digest_of_its_path(
    tmp_path: Path,
) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    digest = environment_digest(str(fake))
    assert digest == environment_digest(str(fake))
    assert digest != environment_digest(sys.executable)


def test_a_develop_installs_version_is_read_again_once_its_metadata_changes(
    tmp_path: Path,
) -> None:
    """Versions read from metadata files are kept per process (the local agent reads
    them before it forks), so a changed file must be read again."""
    site = _site(tmp_path)
    pkg_info = site / "mytool.egg-info" / "PKG-INFO"
    assert "mytool==0.3" in installed([str(site)])
    assert "mytool==0.3" in installed([str(site)])  # kept: the same answer

    pkg_info.write_text("Metadata-Version: 2.1\nName: mytool\nVersion: 0.4\n")
    assert "mytool==0.4" in installed([str(site)])  # rewritten in place, same size

    pkg_info.unlink()
    replaced = site / "mytool.egg-info" / "PKG-INFO.new"
    replaced.write_text("Metadata-Version: 2.1\nName: mytool\nVersion: 0.41\n")
    replaced.rename(pkg_info)  # as an installer replaces it: a new file
    assert "mytool==0.41" in installed([str(site)])

    pkg_info.unlink()
    assert "mytool==" in installed([str(site)])  # no metadata left: no version
