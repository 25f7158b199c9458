"""Datastores (lookup, registration, secrets, transfers), DataPath, DataReference."""

from __future__ import annotations

import json
import re
import stat
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import fsspec
import pytest

from dataferry import (
    AzureBlobDatastore,
    AzureDataLakeGen2Datastore,
    AzureFileDatastore,
    DataPath,
    DataPathComputeBinding,
    DataReference,
    Dataset,
    Datastore,
    Workspace,
)
from dataferry.data import FsspecDatastore, LocalDatastore
from dataferry.errors import (
    DatastoreError,
    DatastoreExistsError,
    DatastoreNotFoundError,
    InvalidNameError,
    PathNotFoundError,
    SecretNotFoundError,
    StorageError,
    UnknownProtocolError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

SECRET = "S3cr3tKEYq" + "q" * 38  # base64 text, as account keys are


def catalog_bytes(ws: Workspace) -> bytes:
    """Every byte of the SQLite catalog, including what is still in the WAL."""
    ws.close()
    return b"".join(p.read_bytes() for p in sorted(ws.path.glob("catalog.db*")))


def registrations(ws: Workspace) -> list[tuple[str, str, dict[str, object]]]:
    return [(s.name, s.kind, dict(s.options)) for s in ws.catalog.list_datastores()]


@pytest.fixture
def src_dir(tmp_path: Path) -> Path:
    """A local folder to upload: a.txt, sub/b.txt, sub/deeper/c.txt."""
    src = tmp_path / "src"
    for rel in ["a.txt", "sub/b.txt", "sub/deeper/c.txt"]:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(f"content of {rel}")
    return src


@pytest.fixture
def memory_store(workspace: Workspace) -> Iterator[Datastore]:
    """A datastore on fsspec's in-process memory filesystem, in a bucket of its own."""
    bucket = f"bucket-{uuid.uuid4().hex[:8]}"
    store = Datastore.register_fsspec(workspace, "mem", f"memory://{bucket}/prefix")
    yield store
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{bucket}"):
        fs.rm(f"/{bucket}", recursive=True)


class TestLookup:
    def test_constructor_without_name_gives_the_default(
        self, workspace: Workspace
    ) -> None:
        store = Datastore(workspace)

        assert type(store) is LocalDatastore
        assert store.name == "workspaceblobstore"

    def test_constructor_with_name_gives_the_concrete_subclass(
        self, workspace: Workspace
    ) -> None:
        Datastore.register_azure_blob_container(
            workspace, "blob", "cont", "acct", skip_validation=True
        )

        assert type(Datastore(workspace, "blob")) is AzureBlobDatastore
        assert type(Datastore(workspace, "workspacefilestore")) is LocalDatastore
        assert isinstance(Datastore(workspace, "blob"), Datastore)

    def test_get_and_get_default(self, workspace: Workspace) -> None:
        assert (
            Datastore.get(workspace, "workspacefilestore").name == "workspacefilestore"
        )
        assert Datastore.get_default(workspace).name == "workspaceblobstore"

    def test_names_are_case_insensitive(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        Datastore.register_local(workspace, "Training_Data", tmp_path / "td")

        assert Datastore.get(workspace, "TRAINING_DATA").name == "training_data"
        assert Datastore(workspace, "WorkspaceBlobStore").name == "workspaceblobstore"
        assert "training_data" in workspace.datastores

    def test_unknown_suggests_the_closest(self, workspace: Workspace) -> None:
        with pytest.raises(
            DatastoreNotFoundError,
            match=r"no datastore named 'workspaceblobstor'.*"
            r"Did you mean 'workspaceblobstore'\?",
        ):
            Datastore.get(workspace, "workspaceblobstor")

    def test_empty_name_is_not_the_default(self, workspace: Workspace) -> None:
        with pytest.raises(InvalidNameError, match="invalid datastore name ''"):
            Datastore(workspace, "")

    def test_registration_fields_are_attributes(self, workspace: Workspace) -> None:
        store = Datastore.register_azure_blob_container(
            workspace, "blob", "cont", "acct", skip_validation=True
        )

        assert (store.container_name, store.account_name) == ("cont", "acct")
        with pytest.raises(AttributeError, match="has no attribute 'bogus'"):
            _ = store.bogus

    def test_repr(self, workspace: Workspace) -> None:
        assert repr(Datastore(workspace)) == "LocalDatastore(name='workspaceblobstore')"


class TestRegistration:
    def test_register_local(self, workspace: Workspace, tmp_path: Path) -> None:
        store = Datastore.register_local(workspace, "mine", tmp_path / "new" / "folder")

        assert type(store) is LocalDatastore
        assert Path(store.location.root) == tmp_path / "new" / "folder"
        assert (tmp_path / "new" / "folder").is_dir()

    def test_register_local_missing_folder(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        with pytest.raises(
            PathNotFoundError, match="does not exist or is not a folder"
        ):
            Datastore.register_local(
                workspace, "mine", tmp_path / "missing", create_if_not_exists=False
            )

    def test_register_local_on_a_file(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        (tmp_path / "file").write_text("x")

        with pytest.raises(PathNotFoundError, match="is not a folder"):
            Datastore.register_local(workspace, "mine", tmp_path / "file")

    @pytest.mark.parametrize(
        "name", ["bad-name", "has space", "", "dot.ted", "x" * 256]
    )
    @pytest.mark.parametrize(
        "register",
        ["local", "fsspec", "blob", "adls", "share"],
    )
    def test_bad_name_writes_nothing(
        self, workspace: Workspace, tmp_path: Path, name: str, register: str
    ) -> None:
        before = registrations(workspace)
        calls = {
            "local": lambda: Datastore.register_local(workspace, name, tmp_path / "d"),
            "fsspec": lambda: Datastore.register_fsspec(workspace, name, "memory://x"),
            "blob": lambda: Datastore.register_azure_blob_container(
                workspace,
                name,
                "cont",
                "acct",
                account_key=SECRET,
                skip_validation=True,
            ),
            "adls": lambda: Datastore.register_azure_data_lake_gen2(
                workspace, name, "lake", "acct", client_secret=SECRET
            ),
            "share": lambda: Datastore.register_azure_file_share(
                workspace,
                name,
                "share",
                "acct",
                account_key=SECRET,
                skip_validation=True,
            ),
        }

        with pytest.raises(InvalidNameError, match="invalid datastore name"):
            calls[register]()

        assert registrations(workspace) == before
        assert not (tmp_path / "d").exists()
        assert not (workspace.path / "secrets.json").exists()

    def test_register_twice(self, workspace: Workspace, tmp_path: Path) -> None:
        Datastore.register_local(workspace, "twice", tmp_path / "one")

        with pytest.raises(
            DatastoreExistsError,
            match="'twice' is already registered; pass overwrite=True",
        ):
            Datastore.register_local(workspace, "TWICE", tmp_path / "two")

        assert Path(Datastore(workspace, "twice").location.root) == tmp_path / "one"

    def test_register_twice_creates_no_folder(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        with pytest.raises(DatastoreExistsError, match="already registered"):
            Datastore.register_local(workspace, "workspaceblobstore", tmp_path / "new")

        assert not (tmp_path / "new").exists()

    def test_register_twice_keeps_the_stored_secret(self, workspace: Workspace) -> None:
        Datastore.register_azure_blob_container(
            workspace, "b", "cont", "acct", account_key=SECRET, skip_validation=True
        )

        with pytest.raises(DatastoreExistsError, match="already registered"):
            Datastore.register_azure_blob_container(
                workspace,
                "b",
                "cont",
                "acct",
                account_key="b3RoZXI=",
                skip_validation=True,
            )

        assert workspace.secrets.get("b") == {"account_key": SECRET}

    def test_overwrite_replaces(self, workspace: Workspace, tmp_path: Path) -> None:
        Datastore.register_local(workspace, "twice", tmp_path / "one")

        Datastore.register_local(workspace, "twice", tmp_path / "two", overwrite=True)

        assert Path(Datastore(workspace, "twice").location.root) == tmp_path / "two"
        assert [n for n, _, _ in registrations(workspace)].count("twice") == 1

    @pytest.mark.parametrize(
        ("register", "cls", "secret_option"),
        [
            (
                lambda ws: Datastore.register_azure_blob_container(
                    ws,
                    "Secretive",
                    "cont",
                    "acct",
                    account_key=SECRET,
                    skip_validation=True,
                ),
                AzureBlobDatastore,
                "account_key",
            ),
            (
                lambda ws: Datastore.register_azure_blob_container(
                    ws,
                    "Secretive",
                    "cont",
                    "acct",
                    sas_token=SECRET,
                    skip_validation=True,
                ),
                AzureBlobDatastore,
                "sas_token",
            ),
            (
                lambda ws: Datastore.register_azure_data_lake_gen2(
                    ws,
                    "Secretive",
                    "lake",
                    "acct",
                    tenant_id="t",
                    client_id="c",
                    client_secret=SECRET,
                    skip_validation=True,
                ),
                AzureDataLakeGen2Datastore,
                "client_secret",
            ),
            (
                lambda ws: Datastore.register_azure_file_share(
                    ws,
                    "Secretive",
                    "share",
                    "acct",
                    account_key=SECRET,
                    skip_validation=True,
                ),
                AzureFileDatastore,
                "account_key",
            ),
        ],
        ids=["blob-key", "blob-sas", "adls-principal", "file-share"],
    )
    def test_secret_goes_to_the_secrets_file_never_the_catalog(
        self, workspace: Workspace, register: object, cls: type, secret_option: str
    ) -> None:
        store = register(workspace)  # type: ignore[operator]

        assert type(store) is cls
        assert store.name == "secretive"
        secrets_file = workspace.path / "secrets.json"
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        assert json.loads(secrets_file.read_text()) == {
            "secretive": {secret_option: SECRET}
        }
        assert secret_option in store._describe()["secrets"]
        assert SECRET not in json.dumps(store._describe())
        reopened = Datastore(workspace, "secretive")
        assert type(reopened) is cls
        assert SECRET.encode() not in catalog_bytes(workspace)

    def test_secret_from_an_unset_environment_variable(
        self, workspace: Workspace, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("DF_TEST_BLOB_KEY", raising=False)
        store = Datastore.register_azure_blob_container(
            workspace,
            "envblob",
            "cont",
            "acct",
            account_key_env="DF_TEST_BLOB_KEY",
            skip_validation=True,
        )

        assert store._describe()["secrets_from_env"] == {
            "account_key": "DF_TEST_BLOB_KEY"
        }
        assert (
            not (workspace.path / "secrets.json").exists()
            or json.loads((workspace.path / "secrets.json").read_text()) == {}
        )
        with pytest.raises(
            SecretNotFoundError, match="DF_TEST_BLOB_KEY, which is not set"
        ):
            _ = Datastore(workspace, "envblob").location

    def test_secret_both_as_value_and_env(self, workspace: Workspace) -> None:
        with pytest.raises(DatastoreError, match="account_key is given both"):
            Datastore.register_azure_blob_container(
                workspace,
                "both",
                "cont",
                "acct",
                account_key=SECRET,
                account_key_env="X",
                skip_validation=True,
            )

    def test_file_share_refuses_a_sas_token(self, workspace: Workspace) -> None:
        with pytest.raises(DatastoreError, match="cannot use a SAS token"):
            Datastore.register_azure_file_share(
                workspace, "fs", "share", "acct", sas_token=SECRET
            )

    def test_unregister_forgets_the_secret_not_the_data(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        Datastore.register_azure_blob_container(
            workspace, "gone", "cont", "acct", account_key=SECRET, skip_validation=True
        )
        local = Datastore.register_local(workspace, "local_gone", tmp_path / "keep")
        (tmp_path / "keep" / "f.txt").write_text("x")

        Datastore(workspace, "gone").unregister()
        local.unregister()

        assert workspace.secrets.get("gone") == {}
        assert (tmp_path / "keep" / "f.txt").read_text() == "x"
        with pytest.raises(DatastoreNotFoundError, match="no datastore named 'gone'"):
            Datastore(workspace, "gone")


class TestFsspec:
    def test_memory_end_to_end(
        self,
        workspace: Workspace,
        memory_store: Datastore,
        src_dir: Path,
        tmp_path: Path,
    ) -> None:
        assert type(memory_store) is FsspecDatastore

        ref = memory_store.upload(str(src_dir), target_path="up", show_progress=False)
        assert isinstance(ref, DataReference)
        assert ref.path_on_datastore == "up"

        dataset = Dataset.File.from_files(DataPath(memory_store, "up/**/*.txt"))
        assert dataset.to_path() == ["/a.txt", "/sub/b.txt", "/sub/deeper/c.txt"]

        got = dataset.download(tmp_path / "out")
        assert sorted(Path(p).read_text() for p in got) == sorted(
            f"content of {rel}" for rel in ["a.txt", "sub/b.txt", "sub/deeper/c.txt"]
        )

        registered = dataset.register(workspace, "in_memory")
        again = Dataset.get_by_name(workspace, "in_memory")
        assert again.to_path() == registered.to_path()

    def test_registration_survives_a_reopened_workspace(
        self, workspace: Workspace, memory_store: Datastore, src_dir: Path
    ) -> None:
        memory_store.upload(str(src_dir), show_progress=False)
        ws = Workspace(path=workspace.path)

        store = Datastore(ws, "MEM")

        assert type(store) is FsspecDatastore
        assert store.location.exists("a.txt")
        ws.close()

    def test_unknown_protocol(self, workspace: Workspace) -> None:
        with pytest.raises(
            UnknownProtocolError, match="fsspec cannot open 'nosuchproto'"
        ):
            Datastore.register_fsspec(workspace, "weird", "nosuchproto://bucket")

        assert "weird" not in workspace.datastores

    def test_secret_options_stay_out_of_the_catalog(self, workspace: Workspace) -> None:
        Datastore.register_fsspec(
            workspace, "withsecret", "memory://sec", secret_options={"token": SECRET}
        )

        assert workspace.secrets.get("withsecret") == {"token": SECRET}
        assert SECRET.encode() not in catalog_bytes(workspace)


class TestTransfers:
    def test_upload_a_folder(
        self, blobstore: Datastore, src_dir: Path, store_root: Path
    ) -> None:
        ref = blobstore.upload(src_dir, target_path="dest", show_progress=False)

        assert ref.datastore.name == blobstore.name
        assert ref.path_on_datastore == "dest"
        assert (store_root / "dest" / "sub" / "deeper" / "c.txt").read_text() == (
            "content of sub/deeper/c.txt"
        )

    def test_upload_skips_existing_unless_overwrite(
        self, blobstore: Datastore, src_dir: Path, store_root: Path
    ) -> None:
        (store_root / "dest").mkdir()
        (store_root / "dest" / "a.txt").write_text("already here")

        blobstore.upload(src_dir, target_path="dest", show_progress=False)
        assert (store_root / "dest" / "a.txt").read_text() == "already here"
        assert (store_root / "dest" / "sub" / "b.txt").exists()

        blobstore.upload(
            src_dir, target_path="dest", overwrite=True, show_progress=False
        )
        assert (store_root / "dest" / "a.txt").read_text() == "content of a.txt"

    def test_upload_needs_a_folder(self, blobstore: Datastore, src_dir: Path) -> None:
        with pytest.raises(PathNotFoundError, match="it is not a folder"):
            blobstore.upload(src_dir / "a.txt")

    def test_upload_without_target_goes_to_the_root(
        self, blobstore: Datastore, src_dir: Path, store_root: Path
    ) -> None:
        ref = blobstore.upload(src_dir, show_progress=False)

        assert (store_root / "a.txt").is_file()
        assert str(ref) == "$AZUREML_DATAREFERENCE_workspaceblobstore"

    def test_upload_files_relative_to_their_common_folder(
        self, blobstore: Datastore, src_dir: Path, store_root: Path
    ) -> None:
        files = [src_dir / "sub" / "b.txt", src_dir / "sub" / "deeper" / "c.txt"]

        ref = blobstore.upload_files(files, target_path="picked", show_progress=False)

        assert ref.path_on_datastore == "picked"
        assert sorted(
            p.relative_to(store_root).as_posix()
            for p in store_root.rglob("*")
            if p.is_file()
        ) == ["picked/b.txt", "picked/deeper/c.txt"]

    def test_upload_files_with_relative_root(
        self, blobstore: Datastore, src_dir: Path, store_root: Path
    ) -> None:
        blobstore.upload_files(
            [str(src_dir / "sub" / "b.txt")],
            relative_root=str(src_dir),
            show_progress=False,
        )

        assert (store_root / "sub" / "b.txt").is_file()

    def test_upload_files_outside_relative_root(
        self, blobstore: Datastore, src_dir: Path
    ) -> None:
        with pytest.raises(StorageError, match="is not under relative_root"):
            blobstore.upload_files([src_dir / "a.txt"], relative_root=src_dir / "sub")

    def test_upload_files_needs_files(
        self, blobstore: Datastore, src_dir: Path
    ) -> None:
        with pytest.raises(PathNotFoundError, match="sub: it is not a file"):
            blobstore.upload_files([src_dir / "a.txt", src_dir / "sub"])

    def test_upload_files_skips_existing_unless_overwrite(
        self, blobstore: Datastore, src_dir: Path, store_root: Path
    ) -> None:
        (store_root / "a.txt").write_text("old")

        blobstore.upload_files([src_dir / "a.txt"], show_progress=False)
        assert (store_root / "a.txt").read_text() == "old"

        blobstore.upload_files([src_dir / "a.txt"], overwrite=True, show_progress=False)
        assert (store_root / "a.txt").read_text() == "content of a.txt"

    def test_download_counts_and_skips_existing(
        self, blobstore: Datastore, src_dir: Path, tmp_path: Path
    ) -> None:
        blobstore.upload(src_dir, target_path="d", show_progress=False)
        target = tmp_path / "new" / "target"

        assert blobstore.download(target, prefix="d", show_progress=False) == 3
        assert (target / "d" / "sub" / "deeper" / "c.txt").is_file()

        (target / "d" / "a.txt").write_text("local change")
        assert blobstore.download(target, prefix="d", show_progress=False) == 0
        assert (target / "d" / "a.txt").read_text() == "local change"

        assert (
            blobstore.download(target, prefix="d", overwrite=True, show_progress=False)
            == 3
        )
        assert (target / "d" / "a.txt").read_text() == "content of a.txt"

    def test_download_with_a_missing_prefix_downloads_nothing(
        self, blobstore: Datastore, tmp_path: Path
    ) -> None:
        assert blobstore.download(tmp_path / "t", prefix="nothing/here") == 0
        assert (tmp_path / "t").is_dir()

    def test_memory_store_transfers(
        self, memory_store: Datastore, src_dir: Path, tmp_path: Path
    ) -> None:
        memory_store.upload(src_dir, show_progress=False)
        memory_store.upload_files(
            [src_dir / "a.txt"], target_path="x", show_progress=False
        )

        assert memory_store.download(tmp_path / "t", show_progress=False) == 4
        assert (tmp_path / "t" / "x" / "a.txt").read_text() == "content of a.txt"


class TestDataPath:
    def test_needs_a_datastore(self) -> None:
        with pytest.raises(ValueError, match="DataPath needs a datastore"):
            DataPath(None, "a.csv")

    def test_properties_and_default_name(self, blobstore: Datastore) -> None:
        path = DataPath(blobstore, "dir/a.csv")

        assert path.datastore is blobstore
        assert path.datastore_name == "workspaceblobstore"
        assert path.path_on_datastore == "dir/a.csv"
        name = path.create_data_reference().data_reference_name
        assert re.fullmatch(r"workspaceblobstore_[0-9a-f]{8}", name)
        assert DataPath(blobstore).path_on_datastore == "/"

    def test_given_name(self, blobstore: Datastore) -> None:
        path = DataPath(blobstore, "a.csv", name="mine")

        assert path.create_data_reference().data_reference_name == "mine"

    def test_data_reference_round_trip(self, blobstore: Datastore) -> None:
        binding = DataPathComputeBinding(mode="download", path_on_compute="/tmp/x")
        ref = DataPath(blobstore, "a.csv").create_data_reference("ref", binding)

        assert (ref.mode, ref.path_on_compute, str(ref)) == (
            "download",
            "/tmp/x",
            "$AZUREML_DATAREFERENCE_ref",
        )
        back = DataPath.create_from_data_reference(ref)
        assert (back.datastore_name, back.path_on_datastore) == (
            "workspaceblobstore",
            "a.csv",
        )

    def test_bad_binding_mode(self) -> None:
        with pytest.raises(
            ValueError, match="mode must be 'mount', 'download' or 'upload'"
        ):
            DataPathComputeBinding(mode="stream")


class TestDataReference:
    def test_str_is_the_environment_placeholder(self, blobstore: Datastore) -> None:
        assert (
            str(DataReference(blobstore, "input_1")) == "$AZUREML_DATAREFERENCE_input_1"
        )

    def test_default_names(self, blobstore: Datastore) -> None:
        assert DataReference(blobstore).data_reference_name == "workspaceblobstore"
        assert DataReference(blobstore, path_on_datastore="./").data_reference_name == (
            "workspaceblobstore"
        )
        named = DataReference(blobstore, path_on_datastore="dir").data_reference_name
        assert re.fullmatch(r"[0-9a-f]{32}", named)

    def test_modes_return_clones(self, blobstore: Datastore) -> None:
        ref = blobstore.path("dir", data_reference_name="r")

        down = ref.as_download("/local", overwrite=True)
        up = ref.as_upload()

        assert (ref.mode, down.mode, up.mode, ref.as_mount().mode) == (
            "mount",
            "download",
            "upload",
            "mount",
        )
        assert (down.path_on_compute, down.overwrite, ref.overwrite) == (
            "/local",
            True,
            False,
        )
        assert down.data_reference_name == "r"

    def test_path_joins_with_a_slash(self, blobstore: Datastore) -> None:
        assert blobstore.path("a/").path("/b.csv").path_on_datastore == "a/b.csv"
        assert blobstore.path().path("b.csv").path_on_datastore == "b.csv"

    def test_bad_mode(self, blobstore: Datastore) -> None:
        with pytest.raises(ValueError, match="mode must be"):
            DataReference(blobstore, mode="hdfs")

    def test_datastore_shorthands(self, blobstore: Datastore) -> None:
        assert blobstore.as_mount().mode == "mount"
        assert blobstore.as_download("/x").path_on_compute == "/x"
        assert blobstore.as_upload().mode == "upload"
        assert blobstore.as_mount().datastore_name == "workspaceblobstore"
