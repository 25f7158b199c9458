"""Workspace: finding a config as Azure ML does, creating, naming, default datastore."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataferry import Datastore, Workspace
from dataferry.data import LocalDatastore
from dataferry.data.workspace import BUILTIN_DATASTORES
from dataferry.errors import (
    DatastoreNotFoundError,
    InvalidNameError,
    WorkspaceExistsError,
    WorkspaceNotFoundError,
)

SCOPE = (
    "/subscriptions/sub-1/resourceGroups/rg-1/providers/"
    "Microsoft.MachineLearningServices/workspaces/{name}"
)


def write_json(path: Path, data: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def azure_config(name: str) -> dict[str, object]:
    """What an Azure ML portal download of config.json holds: no dataferry keys."""
    return {
        "subscription_id": "sub-1",
        "resource_group": "rg-1",
        "workspace_name": name,
    }


def opened_name(path: Path) -> str:
    ws = Workspace.from_config(path)
    ws.close()
    return ws.name


class TestFromConfigSearchOrder:
    def test_azureml_in_any_parent_wins_over_aml_config_and_the_folder(
        self, tmp_path: Path
    ) -> None:
        deep = tmp_path / "a" / "b"
        deep.mkdir(parents=True)
        write_json(tmp_path / ".azureml" / "config.json", azure_config("top-azureml"))
        write_json(deep / "aml_config" / "config.json", azure_config("deep-aml"))
        write_json(deep / "config.json", azure_config("deep-self"))

        assert opened_name(deep) == "top-azureml"

    def test_aml_config_in_any_parent_before_a_config_in_the_folder(
        self, tmp_path: Path
    ) -> None:
        deep = tmp_path / "a" / "b"
        deep.mkdir(parents=True)
        write_json(tmp_path / "aml_config" / "config.json", azure_config("top-aml"))
        write_json(deep / "config.json", azure_config("deep-self"))

        assert opened_name(deep) == "top-aml"

    def test_the_folder_itself_last(self, tmp_path: Path) -> None:
        write_json(tmp_path / "config.json", azure_config("plain"))
        deep = tmp_path / "x" / "y"
        deep.mkdir(parents=True)

        assert opened_name(tmp_path) == "plain"
        assert opened_name(deep) == "plain"

    def test_config_json_before_project_json(self, tmp_path: Path) -> None:
        write_json(tmp_path / ".azureml" / "project.json", azure_config("legacy"))
        write_json(tmp_path / ".azureml" / "config.json", azure_config("current"))

        assert opened_name(tmp_path) == "current"

    def test_project_json_is_used_when_alone(self, tmp_path: Path) -> None:
        write_json(tmp_path / ".azureml" / "project.json", azure_config("legacy"))

        assert opened_name(tmp_path) == "legacy"

    def test_a_file_path_is_used_as_is(self, tmp_path: Path) -> None:
        write_json(tmp_path / ".azureml" / "config.json", azure_config("found"))
        other = write_json(tmp_path / "elsewhere" / "my-ws.json", azure_config("given"))

        assert opened_name(other) == "given"

    def test_default_path_is_the_current_folder(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write_json(tmp_path / ".azureml" / "config.json", azure_config("cwd"))
        (tmp_path / "sub").mkdir()
        monkeypatch.chdir(tmp_path / "sub")

        assert opened_name(Path()) == "cwd"
        ws = Workspace.from_config()
        assert ws.path == tmp_path / ".dataferry"
        ws.close()


class TestFromConfigFormats:
    def test_azure_config_creates_the_workspace_folder_beside_it(
        self, tmp_path: Path
    ) -> None:
        write_json(tmp_path / ".azureml" / "config.json", azure_config("cloudy"))

        ws = Workspace.from_config(tmp_path)

        assert ws.path == tmp_path / ".dataferry"
        assert ws.path.is_dir()
        assert (ws.subscription_id, ws.resource_group) == ("sub-1", "rg-1")
        assert set(ws.datastores) == set(BUILTIN_DATASTORES)
        ws.close()

    def test_config_in_the_folder_itself_puts_the_workspace_beside_it(
        self, tmp_path: Path
    ) -> None:
        write_json(tmp_path / "config.json", azure_config("flat"))

        ws = Workspace.from_config(tmp_path)

        assert ws.path == tmp_path / ".dataferry"
        ws.close()

    def test_scope_arm_path(self, tmp_path: Path) -> None:
        write_json(
            tmp_path / ".azureml" / "config.json",
            {"Id": None, "Scope": SCOPE.format(name="scoped")},
        )

        ws = Workspace.from_config(tmp_path)

        assert ws.name == "scoped"
        assert ws.subscription_id == "sub-1"
        assert ws.resource_group == "rg-1"
        ws.close()

    def test_missing_config_says_it_was_not_found_and_how_to_make_one(
        self, tmp_path: Path
    ) -> None:
        empty = tmp_path / "nothing-here"
        empty.mkdir()

        with pytest.raises(WorkspaceNotFoundError, match="could not be found") as info:
            Workspace.from_config(empty)

        message = str(info.value)
        assert str(empty) in message
        assert "dataferry init" in message
        assert "Workspace.create" in message

    def test_config_without_a_workspace_name(self, tmp_path: Path) -> None:
        write_json(tmp_path / ".azureml" / "config.json", {"subscription_id": "s"})

        with pytest.raises(WorkspaceNotFoundError, match="has no 'workspace_name'"):
            Workspace.from_config(tmp_path)

    def test_config_that_is_not_json(self, tmp_path: Path) -> None:
        bad = tmp_path / ".azureml" / "config.json"
        bad.parent.mkdir()
        bad.write_text("{not json")

        with pytest.raises(
            WorkspaceNotFoundError, match="cannot read workspace config"
        ):
            Workspace.from_config(tmp_path)


class TestCreate:
    def test_create_writes_config_and_folder(self, tmp_path: Path) -> None:
        ws = Workspace.create("proj-1", tmp_path, show_output=False)

        assert ws.name == "proj-1"
        assert ws.path == tmp_path / ".dataferry"
        config = json.loads((tmp_path / ".azureml" / "config.json").read_text())
        assert config["workspace_name"] == "proj-1"
        assert opened_name(tmp_path) == "proj-1"
        ws.close()

    def test_show_output_prints_where(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        Workspace.create("loud", tmp_path).close()

        assert "Created workspace 'loud'" in capsys.readouterr().out

    def test_create_twice_fails(self, workspace: Workspace) -> None:
        project = workspace.path.parent

        with pytest.raises(
            WorkspaceExistsError, match=r"already exists.*exist_ok=True"
        ):
            Workspace.create("test-ws", project, show_output=False)

    def test_create_twice_with_exist_ok_opens_it(self, workspace: Workspace) -> None:
        project = workspace.path.parent

        again = Workspace.create("test-ws", project, exist_ok=True, show_output=False)

        assert again.path == workspace.path
        assert again.name == "test-ws"
        again.close()

    @pytest.mark.parametrize(
        "name",
        ["a", "-lead", "_lead", "has space", "x" * 33, "dot.ted", "sl/ash", "", 7],
        ids=[
            "short",
            "dash",
            "underscore",
            "space",
            "long",
            "dot",
            "slash",
            "empty",
            "int",
        ],
    )
    def test_bad_name_is_refused_before_anything_is_written(
        self, tmp_path: Path, name: object
    ) -> None:
        with pytest.raises(InvalidNameError, match="invalid workspace name"):
            Workspace.create(name, tmp_path / "p", show_output=False)  # type: ignore[arg-type]

        assert not (tmp_path / "p").exists()

    @pytest.mark.parametrize("name", ["ab", "My_WS-2", "x" * 32])
    def test_good_names(self, tmp_path: Path, name: str) -> None:
        Workspace.create(name, tmp_path, show_output=False).close()

    def test_get_by_name_after_create(self, workspace: Workspace) -> None:
        ws = Workspace.get("test-ws")

        assert ws.path == workspace.path
        ws.close()

    def test_get_unknown_name(self) -> None:
        with pytest.raises(WorkspaceNotFoundError, match="no workspace named 'ghost'"):
            Workspace.get("ghost")

    def test_constructor_needs_a_name_or_path(self) -> None:
        with pytest.raises(TypeError, match="needs workspace_name"):
            Workspace()

    def test_workspace_folder_path_opens_it(self, workspace: Workspace) -> None:
        ws = Workspace(path=workspace.path)

        assert ws.name == "test-ws"
        ws.close()


class TestWriteConfig:
    def test_written_config_opens_the_same_workspace(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        other = tmp_path / "elsewhere"

        workspace.write_config(other)

        assert (other / ".azureml" / "config.json").is_file()
        ws = Workspace.from_config(other)
        assert ws.path == workspace.path
        assert ws.name == workspace.name
        ws.close()

    def test_existing_aml_config_folder_is_used(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        other = tmp_path / "legacy"
        (other / "aml_config").mkdir(parents=True)

        workspace.write_config(other)

        assert (other / "aml_config" / "config.json").is_file()
        assert not (other / ".azureml").exists()

    def test_file_name_keeps_an_existing_config_json(
        self, workspace: Workspace, tmp_path: Path
    ) -> None:
        other = tmp_path / "two"
        keep = write_json(other / ".azureml" / "config.json", azure_config("kept"))

        workspace.write_config(other, file_name="project.json")

        assert json.loads(keep.read_text())["workspace_name"] == "kept"
        written = json.loads((other / ".azureml" / "project.json").read_text())
        assert written["workspace_name"] == "test-ws"

    def test_default_is_the_current_folder(
        self, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        here = tmp_path / "here"
        here.mkdir()
        monkeypatch.chdir(here)

        workspace.write_config()

        assert (here / ".azureml" / "config.json").is_file()


class TestDatastoresAndDatasets:
    def test_builtin_datastores(self, workspace: Workspace) -> None:
        stores = workspace.datastores

        assert set(stores) == {"workspaceblobstore", "workspacefilestore"}
        assert all(isinstance(s, LocalDatastore) for s in stores.values())
        for name, store in stores.items():
            assert Path(store.location.root) == workspace.path / "datastores" / name

    def test_default_datastore_is_workspaceblobstore(
        self, workspace: Workspace
    ) -> None:
        assert workspace.get_default_datastore().name == "workspaceblobstore"
        assert Datastore.get_default(workspace).name == "workspaceblobstore"

    def test_set_default_datastore_is_case_insensitive_and_persists(
        self, workspace: Workspace
    ) -> None:
        workspace.set_default_datastore("WorkspaceFileStore")

        assert workspace.get_default_datastore().name == "workspacefilestore"
        reopened = Workspace(path=workspace.path)
        assert reopened.get_default_datastore().name == "workspacefilestore"
        reopened.close()

    def test_set_as_default(self, workspace: Workspace) -> None:
        Datastore(workspace, "workspacefilestore").set_as_default()

        assert Datastore(workspace).name == "workspacefilestore"

    def test_set_unknown_default(self, workspace: Workspace) -> None:
        with pytest.raises(DatastoreNotFoundError, match="no datastore named 'nope'"):
            workspace.set_default_datastore("nope")

        assert workspace.get_default_datastore().name == "workspaceblobstore"

    def test_datasets_empty_then_registered(
        self, workspace: Workspace, store_root: Path
    ) -> None:
        from dataferry import DataPath, Dataset

        assert workspace.datasets == {}
        (store_root / "f.txt").write_text("x")
        Dataset.File.from_files(
            DataPath(workspace.get_default_datastore(), "f.txt")
        ).register(workspace, "one")

        assert list(workspace.datasets) == ["one"]
        assert workspace.datasets["one"].version == 1

    def test_repr_names_the_workspace(self, workspace: Workspace) -> None:
        assert "test-ws" in repr(workspace)

    def test_close_then_use_reopens(self, workspace: Workspace) -> None:
        workspace.close()

        assert "workspaceblobstore" in workspace.datastores
