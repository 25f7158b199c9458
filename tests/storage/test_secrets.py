"""SecretStore: an owner-only JSON file, replaced atomically."""

from __future__ import annotations

import json
import os
import stat
from typing import TYPE_CHECKING

import pytest

from dataferry.errors import DatastoreError
from dataferry.storage import SecretStore

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    return SecretStore(tmp_path / "ws" / "secrets.json")


def test_missing_file_is_empty(store: SecretStore) -> None:
    assert store.get("any") == {}


def test_put_then_get_with_owner_only_mode(store: SecretStore) -> None:
    store.put("Blob", {"account_key": "k"})

    assert store.get("blob") == {"account_key": "k"}
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert json.loads(store.path.read_text()) == {"blob": {"account_key": "k"}}


def test_put_keeps_other_datastores(store: SecretStore) -> None:
    store.put("a", {"k": "1"})
    store.put("b", {"k": "2"})
    store.put("a", {"k": "3"})

    assert (store.get("a"), store.get("b")) == ({"k": "3"}, {"k": "2"})


def test_empty_put_removes(store: SecretStore) -> None:
    store.put("a", {"k": "1"})
    store.put("a", {})

    assert store.get("a") == {}
    assert "a" not in json.loads(store.path.read_text())


def test_no_temporary_file_is_left(store: SecretStore) -> None:
    store.put("a", {"k": "1"})

    # the lock file stays (removing a flock'ed file races); it is empty
    assert sorted(os.listdir(store.path.parent)) == [
        "secrets.json",
        "secrets.json.lock",
    ]
    assert store.path.with_name("secrets.json.lock").read_bytes() == b""


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660])
def test_readable_by_others_is_refused(store: SecretStore, mode: int) -> None:
    store.put("a", {"k": "1"})
    store.path.chmod(mode)

    with pytest.raises(DatastoreError, match=r"readable by other users .*chmod 600"):
        store.get("a")
