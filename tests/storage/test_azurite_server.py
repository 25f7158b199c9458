"""The tests' own Azurite: installed once, started on loopback, never left running."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import servers.azurite as azurite_server
from servers.azurite import AzuriteUnavailable, running_azurite

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.server
def test_stopped_also_when_the_body_fails(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="the test failed"),
        running_azurite(tmp_path / "data") as server,
    ):
        assert server.endpoint.startswith("http://127.0.0.1:")
        raise RuntimeError("the test failed")

    assert server.process.poll() is not None  # exited: no orphan process


def test_without_npm_the_message_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(azurite_server, "INSTALL_DIR", tmp_path / "not-installed")
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm on it

    with pytest.raises(
        AzuriteUnavailable,
        match=r"the server tests need Azurite, installed with npm, but npm is not on "
        r"PATH; install Node.js 20 and npm",
    ):
        azurite_server.azurite_binary()
