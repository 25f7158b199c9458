"""Azure registrations of a wrong shape are refused before anything is stored or asked.

``skip_validation`` makes no request, so without these checks a container of ``../x``
would root a datastore outside its container and a malformed key would only fail at a
step's start. No server is needed: the shape is checked before any network call.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import pytest

from dataferry import Datastore
from dataferry.errors import DatastoreShapeError

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

KEY = "a2V5LWZvci10ZXN0cw=="  # base64, as account keys are
GOOD: dict[str, Any] = {
    "container_name": "cont-1",
    "account_name": "devstoreaccount1",
    "account_key": KEY,
    "protocol": "http",
    "endpoint": "127.0.0.1:10000",
    "skip_validation": True,
}


def register(ws: Workspace, **changes: Any) -> Datastore:
    return Datastore.register_azure_blob_container(ws, "blob", **{**GOOD, **changes})


def names(ws: Workspace) -> set[str]:
    return {s.name for s in ws.catalog.list_datastores()}


@pytest.mark.parametrize(
    "container",
    ["../x", "", "a/b", "UPPER", "c" * 64, "c*", "ab", "-ab", "ab-", "a--b", "é-x",
     " cont", "cont\n", "con t", "[abc]"],
)  # fmt: skip
def test_a_container_name_of_a_wrong_shape_is_refused(
    workspace: Workspace, container: str
) -> None:
    before = names(workspace)
    with pytest.raises(
        DatastoreShapeError,
        match=rf"^datastore 'blob': container_name {re.escape(repr(container))} is "
        r"not a valid Azure name: use 3-63 lowercase letters",
    ):
        register(workspace, container_name=container)

    assert names(workspace) == before


@pytest.mark.parametrize(
    "account", ["../evil", "", "a b", "acct/x", "AB1", "ab", "a" * 25, "acc-t"]
)
def test_an_account_name_of_a_wrong_shape_is_refused(
    workspace: Workspace, account: str
) -> None:
    with pytest.raises(
        DatastoreShapeError,
        match=rf"^datastore 'blob': account_name {re.escape(repr(account))} is not a "
        r"valid Azure storage account name: use 3-24 lowercase letters and digits",
    ):
        register(workspace, account_name=account)


@pytest.mark.parametrize(
    "endpoint",
    ["ftp://x", "http://", "127.0.0.1:notaport", "a b", "http://h/x?y=1",
     "http://user:pw@127.0.0.1:10000/acct", "127.0.0.1:99999", "http://h:port/x",
     "", "http://h/x#frag", "host/path"],
)  # fmt: skip
def test_an_endpoint_of_a_wrong_shape_is_refused(
    workspace: Workspace, endpoint: str
) -> None:
    with pytest.raises(
        DatastoreShapeError,
        match=rf"^datastore 'blob': endpoint {re.escape(repr(endpoint))} is not an "
        r"endpoint: give a suffix such as 'core.windows.net'",
    ):
        register(workspace, endpoint=endpoint)


@pytest.mark.parametrize(
    "endpoint",
    ["core.windows.net", "127.0.0.1:10000", "localhost:10000", "[::1]:10000",
     "http://127.0.0.1:10000/devstoreaccount1", "https://acct.blob.example.org/"],
)  # fmt: skip
def test_endpoints_of_every_right_shape_are_accepted(
    workspace: Workspace, endpoint: str
) -> None:
    store = register(workspace, endpoint=endpoint)

    assert store.container_name == "cont-1"


def test_a_protocol_other_than_http_is_refused(workspace: Workspace) -> None:
    with pytest.raises(
        DatastoreShapeError,
        match=r"^datastore 'blob': protocol 'ftp' is not supported: use 'https'",
    ):
        register(workspace, protocol="ftp")


@pytest.mark.parametrize("key", ["not base64!!", "S3cr3t-KEY", "abc", "a2V5\n=="])
def test_an_account_key_that_is_not_base64_is_refused_without_showing_it(
    workspace: Workspace, key: str
) -> None:
    with pytest.raises(
        DatastoreShapeError,
        match=r"^datastore 'blob': account_key is not a storage account key",
    ) as refused:
        register(workspace, account_key=key)

    assert key not in str(refused.value)
    assert "blob" not in names(workspace)


@pytest.mark.parametrize("field", ["account_key", "sas_token", "connection_string"])
@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_secret_is_refused_not_dropped(
    workspace: Workspace, field: str, value: str
) -> None:
    changes = {"account_key": None, field: value}
    with pytest.raises(
        DatastoreShapeError,
        match=rf"^datastore 'blob': {field} is empty; give the credential",
    ):
        register(workspace, **changes)


def test_adls_and_file_share_names_are_checked_alike(workspace: Workspace) -> None:
    with pytest.raises(
        DatastoreShapeError, match=r"^datastore 'lake': filesystem 'a/b' is not"
    ):
        Datastore.register_azure_data_lake_gen2(
            workspace, "lake", "a/b", "acct", tenant_id="t", client_id="c",
            client_secret="s", skip_validation=True,
        )  # fmt: skip
    with pytest.raises(
        DatastoreShapeError, match=r"^datastore 'share': file_share_name '\.\.' is not"
    ):
        Datastore.register_azure_file_share(
            workspace, "share", "..", "acct", account_key=KEY, skip_validation=True
        )


def test_system_containers_are_accepted(workspace: Workspace) -> None:
    assert register(workspace, container_name="$web").container_name == "$web"


CHILD = """
import base64, sys, time
from dataferry import Datastore, Workspace
from dataferry.errors import DatastoreExistsError

project, name, index, start = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
ws = Workspace.from_config(project)
key = base64.b64encode(f"key-{index}".encode()).decode()
while time.time() < start:  # every process registers at the same moment
    time.sleep(0.001)
try:
    Datastore.register_azure_blob_container(
        ws, name, "cont", "acct", account_key=key, skip_validation=True
    )
    print("won", key)
except DatastoreExistsError:
    print("refused")
"""


def register_at_once(
    workspace: Workspace, tmp_path: Path, names: list[str]
) -> list[list[str]]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    start = time.time() + 4  # after every child has imported dataferry
    children = [
        subprocess.Popen(
            [
                sys.executable,
                str(script),
                str(workspace.path),
                name,
                str(i),
                str(start),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, name in enumerate(names)
    ]
    answers = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        answers.append(out.split())
    return answers


@pytest.mark.slow
def test_one_name_registered_from_processes_at_once_keeps_the_winners_key(
    workspace: Workspace, tmp_path: Path
) -> None:
    answers = register_at_once(workspace, tmp_path, ["same"] * 4)

    won = [a[1] for a in answers if a[0] == "won"]
    assert len(won) == 1
    assert sorted(a[0] for a in answers) == ["refused", "refused", "refused", "won"]
    assert workspace.secrets.get("same") == {"account_key": won[0]}
    assert [s.name for s in workspace.catalog.list_datastores()].count("same") == 1


@pytest.mark.slow
def test_names_registered_from_processes_at_once_each_keep_their_key(
    workspace: Workspace, tmp_path: Path
) -> None:
    names = [f"store_{i}" for i in range(4)]

    answers = register_at_once(workspace, tmp_path, names)

    assert [a[0] for a in answers] == ["won"] * 4
    for name, answer in zip(names, answers, strict=True):
        assert workspace.secrets.get(name) == {"account_key": answer[1]}
