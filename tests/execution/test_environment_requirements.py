"""What an environment needs on this machine, decided without installing anything."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import pytest

from dataferry.execution.environments.requirements import (
    constraints,
    resolve_request,
)

NUMPY = metadata.version("numpy")
PYARROW = metadata.version("pyarrow")


def request(pip: list[str] | None = None, **more: Any) -> dict[str, Any]:
    return {
        "pip": pip or [],
        "conda": [],
        "pip_options": [],
        "channels": [],
        "python": None,
        **more,
    }


class TestSatisfiedHere:
    @pytest.mark.parametrize(
        "pip",
        [
            [f"numpy=={NUMPY}", "pyarrow"],
            ["NumPy>=1", "PyYAML"],
            ["azureml-defaults", "azureml-core==1.48.0", "azureml_dataset_runtime"],
            ['pywin32 ; sys_platform == "win32"'],  # not for this platform
        ],
    )
    def test_nothing_to_install(self, pip: list[str]) -> None:
        resolution = resolve_request(request(pip), "e")

        assert (resolution.install, resolution.key) == ((), "")

    def test_conda_packages_count_as_pip_packages(self) -> None:
        resolution = resolve_request(request(conda=["numpy", "pyyaml>=5"]), "e")

        assert resolution.install == ()


class TestReplacedPins:
    @pytest.mark.parametrize(
        ("asked", "used"),
        [
            ("numpy==1.19.5", f"numpy=={NUMPY}"),
            ("pyarrow<4", f"pyarrow=={PYARROW}"),
        ],
    )
    def test_an_old_pin_of_dataferrys_own_requirement(
        self, asked: str, used: str
    ) -> None:
        resolution = resolve_request(request([asked, "six==1.16.0"]), "old")

        assert resolution.replaced == ((asked, used),)
        assert resolution.install == ("six==1.16.0",)
        assert resolution.notes == (
            f"environment 'old': pin '{asked}' replaced by '{used}' (dataferry "
            "itself needs it)",
        )

    def test_a_conda_pin_is_replaced_too(self) -> None:
        resolution = resolve_request(request(conda=["numpy=1.19.5=py38h0"]), "old")

        assert resolution.replaced == (("numpy==1.19.5", f"numpy=={NUMPY}"),)


class TestInstalled:
    def test_what_this_interpreter_lacks_is_installed_in_order(self) -> None:
        resolution = resolve_request(
            request(
                ["toolz==0.12.1", "six==1.16.0"],
                pip_options=["--extra-index-url https://example.org/simple"],
            ),
            "e",
        )

        assert resolution.install == (
            "--extra-index-url https://example.org/simple",
            "toolz==0.12.1",
            "six==1.16.0",
        )
        assert f"numpy=={NUMPY}" in constraints()  # what pip may not change
        assert len(resolution.key) == 20

    @pytest.mark.parametrize(
        ("conda", "pip_line"),
        [
            ("six=1.16", "six==1.16.*"),
            ("six=1.16.0=pyhd3eb1b0_0", "six==1.16.0"),
            ("conda-forge::six>=1.15", "six>=1.15"),
            ("pytorch=2.3", "torch==2.3.*"),
            ("six 1.16", "six==1.16.*"),
        ],
    )
    def test_conda_specs_in_pips_syntax(self, conda: str, pip_line: str) -> None:
        assert resolve_request(request(conda=[conda]), "e").install == (pip_line,)

    def test_conda_tools_and_system_libraries_are_left_out_with_a_note(self) -> None:
        resolution = resolve_request(
            request(conda=["pip=20.1", "cudatoolkit=11.8", "six"]), "gpu"
        )

        assert resolution.install == ("six",)
        assert resolution.notes == (
            "environment 'gpu': conda package 'pip=20.1' not installed (this "
            "machine's pip builds)",
            "environment 'gpu': conda package 'cudatoolkit=11.8' not installed (no "
            "PyPI package)",
        )

    def test_the_key_follows_the_list(self) -> None:
        def key(pip: list[str]) -> str:
            return resolve_request(request(pip), "e").key

        assert key(["six==1.16.0"]) == key(["six==1.16.0"])
        assert key(["six==1.16.0"]) != key(["six==1.15.0"])
        # what this interpreter serves does not change the venv
        assert key(["six==1.16.0", "pyarrow"]) == key(["six==1.16.0"])

    def test_a_line_only_pip_can_read_is_installed(self) -> None:
        url = "git+https://example.org/pkg.git#egg=pkg"

        assert resolve_request(request([url]), "e").install == (url,)
