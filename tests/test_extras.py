"""Optional packages: a missing one is an ``ExtraNotInstalledError`` naming its extra,
and neither PyYAML nor aiohttp is loaded by what does not use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dataferry._extras import import_extra, protocol_hint
from dataferry.errors import DataferryError, ExtraNotInstalledError

SRC = Path(__file__).resolve().parents[1] / "src"


def test_a_missing_package_names_its_extra() -> None:
    with pytest.raises(
        ExtraNotInstalledError,
        match=r"^reading x\.yml needs the package 'no_such_pkg_df', which is not "
        r"installed; install it with: pip install 'dataferry\[conda\]'$",
    ) as caught:
        import_extra("no_such_pkg_df", "conda", "reading x.yml")
    assert isinstance(caught.value, ImportError)
    assert isinstance(caught.value, DataferryError)
    assert caught.value.exit_code == 1


def test_an_installed_package_is_returned() -> None:
    assert import_extra("json", "conda", "x") is json


@pytest.mark.parametrize(
    ("protocol", "extra"),
    [("https", "http"), ("HTTP", "http"), ("s3", "s3"), ("gs", "gcs"), ("az", "azure")],
)
def test_protocols_served_by_an_extra_get_its_hint(protocol: str, extra: str) -> None:
    assert (
        protocol_hint(protocol)
        == f"; install it with: pip install 'dataferry[{extra}]'"
    )


@pytest.mark.parametrize("protocol", ["file", "memory", "", None])
def test_other_protocols_get_no_hint(protocol: str | None) -> None:
    assert protocol_hint(protocol) == ""


@pytest.mark.slow  # a fresh interpreter imports the CLI and the pipeline layer
def test_neither_yaml_nor_aiohttp_loads_unless_used(tmp_path: Path) -> None:
    code = """
import sys, json
import dataferry, dataferry.cli.main
from dataferry import Workspace, PythonScriptStep, Pipeline, Environment
ws = Workspace.create("ws", sys.argv[1], show_output=False)
env = Environment("e")
env.python.conda_dependencies.add_pip_package("numpy")
step = PythonScriptStep(script_name="s.py", source_directory=sys.argv[1])
Pipeline(ws, steps=[step]).validate()
print(json.dumps(sorted(m for m in ("yaml", "aiohttp") if m in sys.modules)))
"""
    (tmp_path / "s.py").write_text("")
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
