"""The model registry: Model.register, lookups, list filters, download, tags,
properties, delete, get_model_path, and the typed errors of bad input."""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dataferry import Dataset, Model
from dataferry.errors import (
    AzureOnlyError,
    ModelArgumentError,
    ModelDownloadExistsError,
    ModelError,
    ModelNameError,
    ModelNotFoundError,
    ModelPathNotFoundError,
    ModelPropertyError,
)
from dataferry.execution.run_context import CONTEXT_ENV

if TYPE_CHECKING:
    from dataferry import Datastore, Workspace


@pytest.fixture
def workspace(catalog_workspace: Workspace) -> Workspace:
    """These tests run on SQLite and on PostgreSQL (the PostgreSQL half: ``server``):
    model versions are numbered in the catalog, under its lock."""
    return catalog_workspace


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "work" / "outputs" / "model.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps({"w": [1, 2, 3]}))
    return path


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "work" / "bundle"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01")
    (folder / "sub" / "vocab.txt").write_text("a\nb\n")
    return folder


class TestRegister:
    def test_file_versions_count_from_one(
        self, workspace: Workspace, model_file: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        first = Model.register(workspace, str(model_file), "iris-clf")
        second = Model.register(
            workspace, model_file, "iris-clf", tags={"stage": "dev"}, description="d"
        )

        assert capsys.readouterr().out == (
            "Registering model iris-clf\nRegistering model iris-clf\n"
        )
        assert (first.version, first.id) == (1, "iris-clf:1")
        assert (second.version, second.id) == (2, "iris-clf:2")
        assert (second.tags, second.description) == ({"stage": "dev"}, "d")
        assert second.run_id is None
        stored = Path(second.url)
        assert stored.name == "model.pkl"
        assert pickle.loads(stored.read_bytes()) == {"w": [1, 2, 3]}
        assert not stored.stat().st_mode & stat.S_IWUSR  # immutable
        # identical files are kept once
        assert first.url == second.url

    def test_folder_and_child_paths(
        self, workspace: Workspace, model_folder: Path
    ) -> None:
        whole = Model.register(workspace, model_folder, "bundle")
        part = Model.register(
            workspace, model_folder, "bundle", child_paths=["sub/vocab.txt"]
        )

        assert sorted(
            p.relative_to(whole.url).as_posix() for p in Path(whole.url).rglob("*.*")
        ) == ["sub/vocab.txt", "weights.bin"]
        assert [p.name for p in Path(part.url).rglob("*.*")] == ["vocab.txt"]
        assert whole.serialize()["fileCount"] == 2
        assert part.serialize()["fileCount"] == 1

    def test_lineage_to_datasets_and_framework(
        self,
        workspace: Workspace,
        blobstore: Datastore,
        store_root: Path,
        model_file: Path,
    ) -> None:
        (store_root / "train.csv").write_text("a,b\n1,2\n")
        train = Dataset.Tabular.from_delimited_files(path=(blobstore, "train.csv"))

        model = Model.register(
            workspace,
            model_file,
            "m",
            datasets=[("training", train)],
            model_framework="ScikitLearn",
            model_framework_version="1.3",
            properties={"auc": "0.9"},
        )

        again = Model(workspace, "m")
        assert list(again.datasets) == ["training"]
        (ds,) = again.datasets["training"]
        assert ds.to_pandas_dataframe().to_dict("list") == {"a": [1], "b": [2]}
        assert (again.model_framework, again.model_framework_version) == (
            "ScikitLearn",
            "1.3",
        )
        assert again.properties == {"auc": "0.9"} == model.properties

    @pytest.mark.parametrize(
        "name", ["", "-lead", "has space", "a/b", "x" * 256, 7, None]
    )
    def test_bad_names(
        self, workspace: Workspace, model_file: Path, name: object
    ) -> None:
        with pytest.raises(
            ModelNameError, match=r"invalid model name .*letter or digit"
        ):
            Model.register(workspace, model_file, name)  # type: ignore[arg-type]
        assert Model.list(workspace) == []

    def test_missing_path(self, workspace: Workspace, tmp_path: Path) -> None:
        with pytest.raises(
            ModelPathNotFoundError, match=r"Path does not exist: .*nope\.pkl"
        ):
            Model.register(workspace, tmp_path / "nope.pkl", "m")
        assert not (workspace.path / "models").exists()

    def test_missing_child_path(self, workspace: Workspace, model_folder: Path) -> None:
        with pytest.raises(ModelPathNotFoundError, match=r"child path 'other\.txt'"):
            Model.register(workspace, model_folder, "m", child_paths=["other.txt"])

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"tags": ["a"]}, "tags must be a dict of str to str, not list"),
            ({"properties": "x"}, "properties must be a dict of str to str, not str"),
            ({"datasets": "d"}, r"datasets must be a list of \(scenario, dataset\)"),
            ({"datasets": [("s",)]}, r"datasets\[0\] must be a \(scenario, dataset\)"),
            ({"datasets": [("s", "ds")]}, r"datasets\[0\] must be a FileDataset"),
            (
                {"sample_input_dataset": {"a": 1}},
                "sample_input_dataset must be a FileDataset or TabularDataset, not dict",
            ),
        ],
    )
    def test_bad_arguments_write_nothing(
        self,
        workspace: Workspace,
        model_file: Path,
        kwargs: dict[str, object],
        message: str,
    ) -> None:
        with pytest.raises(ModelArgumentError, match=message):
            Model.register(workspace, model_file, "m", **kwargs)  # type: ignore[arg-type]
        assert Model.list(workspace) == []
        assert not (workspace.path / "models").exists()


class TestLookup:
    def test_latest_by_default_and_by_version_or_id(
        self, workspace: Workspace, model_file: Path
    ) -> None:
        for _ in range(3):
            Model.register(workspace, model_file, "m")

        assert Model(workspace, "m").version == 3
        assert Model(workspace, "m", version=2).version == 2
        assert Model(workspace, id="m:1").version == 1

    def test_not_found_names_versions_or_close_names(
        self, workspace: Workspace, model_file: Path
    ) -> None:
        Model.register(workspace, model_file, "iris-model")

        with pytest.raises(
            ModelNotFoundError,
            match=r"^ModelNotFound: Model with name iris-model, version 4 not found in "
            r"provided workspace\. Its versions are \[1\]",
        ):
            Model(workspace, "iris-model", version=4)
        with pytest.raises(ModelNotFoundError, match=r"Did you mean 'iris-model'\?"):
            Model(workspace, "iris-modle")
        with pytest.raises(
            ModelNotFoundError, match=r"Register it with Model\.register"
        ):
            Model(workspace, "zzz")

    def test_name_or_id_needed_and_version_type(self, workspace: Workspace) -> None:
        with pytest.raises(ModelError, match="one of id or name must be provided"):
            Model(workspace)
        with pytest.raises(ModelArgumentError, match="version must be an int or None"):
            Model(workspace, "m", version="1")  # type: ignore[arg-type]
        for bad in ("m:x", "m:", 5):
            with pytest.raises(ModelArgumentError, match="id must be 'name:version'"):
                Model(workspace, id=bad)  # type: ignore[arg-type]
        with pytest.raises(
            ModelArgumentError, match=r"unexpected keyword arguments \['nme'\]"
        ):
            Model(workspace, "m", nme="x")

    def test_lookup_with_tags(self, workspace: Workspace, model_file: Path) -> None:
        Model.register(workspace, model_file, "m", tags={"stage": "prod"})
        Model.register(workspace, model_file, "m", tags={"stage": "dev"})

        assert Model(workspace, "m", tags=[["stage", "prod"]]).version == 1
        with pytest.raises(ModelNotFoundError, match="given tags, properties"):
            Model(workspace, "m", tags=[["stage", "qa"]])


class TestList:
    @pytest.fixture
    def registered(self, workspace: Workspace, model_file: Path) -> Workspace:
        Model.register(
            workspace, model_file, "a", tags={"k": "1"}, properties={"p": "x"}
        )
        Model.register(workspace, model_file, "a", tags={"k": "2"})
        Model.register(workspace, model_file, "b", tags={"k": "1", "other": "y"})
        return workspace

    @pytest.mark.parametrize(
        ("kwargs", "ids"),
        [
            ({}, ["a:1", "a:2", "b:1"]),
            ({"name": "a"}, ["a:1", "a:2"]),
            ({"tags": ["k"]}, ["a:1", "a:2", "b:1"]),
            ({"tags": [["k", "1"]]}, ["a:1", "b:1"]),
            ({"tags": [["k", "1"], "other"]}, ["b:1"]),
            ({"properties": ["p"]}, ["a:1"]),
            ({"properties": [["p", "y"]]}, []),
            ({"latest": True}, ["a:2", "b:1"]),
            ({"name": "zzz"}, []),
        ],
    )
    def test_filters(
        self, registered: Workspace, kwargs: dict[str, object], ids: list[str]
    ) -> None:
        assert [m.id for m in Model.list(registered, **kwargs)] == ids  # type: ignore[arg-type]

    @pytest.mark.parametrize("bad", ["k", {"k": "1"}])
    def test_filters_must_be_lists(self, registered: Workspace, bad: object) -> None:
        with pytest.raises(ModelArgumentError, match=r"tags must be a list of \"key\""):
            Model.list(registered, tags=bad)  # type: ignore[arg-type]
        with pytest.raises(ModelArgumentError, match=r"properties must be a list"):
            Model.list(registered, properties=bad)  # type: ignore[arg-type]


class TestDownload:
    def test_file_keeps_its_last_segment(
        self, workspace: Workspace, model_file: Path, tmp_path: Path
    ) -> None:
        model = Model.register(workspace, model_file, "m")

        got = model.download(tmp_path / "dl")

        assert got == str(tmp_path / "dl" / "model.pkl")
        assert pickle.loads(Path(got).read_bytes()) == {"w": [1, 2, 3]}
        with pytest.raises(
            ModelDownloadExistsError,
            match=r"File already exists\. To overwrite, set exist_ok",
        ):
            model.download(tmp_path / "dl")
        Path(got).write_bytes(b"changed")
        assert model.download(tmp_path / "dl", exist_ok=True) == got
        assert pickle.loads(Path(got).read_bytes()) == {"w": [1, 2, 3]}
        Path(got).write_bytes(b"changed")
        model.download(tmp_path / "dl", exists_ok=True)  # the older spelling
        assert Path(got).read_bytes() != b"changed"

    def test_folder(
        self, workspace: Workspace, model_folder: Path, tmp_path: Path
    ) -> None:
        model = Model.register(workspace, model_folder, "bundle")

        got = Path(model.download(tmp_path / "dl"))

        assert got == tmp_path / "dl" / "bundle"
        assert (got / "sub" / "vocab.txt").read_text() == "a\nb\n"
        os.chmod(got / "weights.bin", 0o644)  # a download is the user's to change
        (got / "weights.bin").write_bytes(b"x")
        assert Path(model.url, "weights.bin").read_bytes() == b"\x00\x01"


class TestChanges:
    def test_tags_and_properties(self, workspace: Workspace, model_file: Path) -> None:
        model = Model.register(workspace, model_file, "m", tags={"a": "1"})

        model.add_tags({"b": "2", "a": "3"})
        model.add_properties({"p": "x"})
        model.add_properties({"p": "x", "q": "y"})  # the same value again is fine
        model.remove_tags(["b"])

        again = Model(workspace, "m")
        assert (again.tags, again.properties) == ({"a": "3"}, {"p": "x", "q": "y"})
        with pytest.raises(
            ModelPropertyError, match=r"properties \['p'\] are set already"
        ):
            model.add_properties({"p": "other"})
        with pytest.raises(
            ModelArgumentError, match="tags must be a list of tag names"
        ):
            model.remove_tags("b")  # type: ignore[arg-type]

    def test_delete_keeps_shared_files(
        self, workspace: Workspace, model_file: Path
    ) -> None:
        one = Model.register(workspace, model_file, "m")
        two = Model.register(workspace, model_file, "m")

        one.delete()
        assert [m.id for m in Model.list(workspace)] == ["m:2"]
        assert Path(two.url).is_file()
        two.delete()
        assert Model.list(workspace) == []
        assert not Path(two.url).exists()
        with pytest.raises(ModelNotFoundError, match="Model with name m, version 2"):
            two.delete()

    @pytest.mark.parametrize("method", ["deploy", "package", "profile"])
    def test_deployment_is_azure_only(self, method: str) -> None:
        with pytest.raises(AzureOnlyError, match=rf"^Model\.{method} is Azure-only"):
            getattr(Model, method)("ws", "svc", [])


class TestGetModelPath:
    def test_with_a_workspace(self, workspace: Workspace, model_file: Path) -> None:
        Model.register(workspace, model_file, "m")
        Model.register(workspace, model_file.parent, "m")

        assert Model.get_model_path("m", _workspace=workspace).endswith("/outputs")
        one = Model.get_model_path("m", version=1, _workspace=workspace)
        assert pickle.loads(Path(one).read_bytes()) == {"w": [1, 2, 3]}

    def test_outside_a_run(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv(CONTEXT_ENV, raising=False)
        monkeypatch.chdir(tmp_path)
        with pytest.raises(ModelNotFoundError, match="pass _workspace=ws"):
            Model.get_model_path("local-model")
        (tmp_path / "local-model").mkdir()
        assert Model.get_model_path("local-model") == "local-model"
        with pytest.raises(ModelArgumentError, match="version must be an int or None"):
            Model.get_model_path("local-model", version="2")  # type: ignore[arg-type]
