"""The agent's code key: its folder walk is done once a process, its inputs read each call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataferry.execution import agent_protocol as protocol

if TYPE_CHECKING:
    import pytest


def test_the_package_is_walked_once_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    key = protocol.code_key()
    walks = protocol._code_stamp.cache_info().misses

    assert [protocol.code_key() for _ in range(3)] == [key] * 3
    assert protocol._code_stamp.cache_info().misses == walks
    # what is not the code's own state is still read on each call
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    assert protocol.code_key() != key
    monkeypatch.setattr(protocol.sys, "executable", "/other/python")
    assert protocol.code_key() not in {key, ""}
    assert protocol._code_stamp.cache_info().misses == walks
