"""``Model.update``, ``add_tags``, ``remove_tags``, ``add_properties`` (A.14) through
``azureml.core``: a version changes in place in the catalog, its number stays, every
argument is checked before anything is written, and a stale object loses no change."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dataferry.errors import ModelArgumentError, ModelNotFoundError, ModelPropertyError

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "outputs" / "model.pkl"
    path.parent.mkdir()
    path.write_bytes(b"weights")
    return path


def _state(workspace: Workspace, version: int = 1) -> tuple[object, ...]:
    from azureml.core import Model

    fresh = Model(workspace, "m", version=version)
    return (fresh.version, fresh.tags, fresh.properties, fresh.description)


def test_update_replaces_tags_sets_description_and_adds_properties(
    workspace: Workspace, model_file: Path
) -> None:
    from azureml.core import Dataset, Model

    model = Model.register(
        workspace,
        str(model_file),
        "m",
        tags={"a": "1", "b": "2"},
        properties={"p": "x"},
        description="first",
    )
    Model.register(workspace, str(model_file), "m", tags={"other": "version"})
    datastore = workspace.get_default_datastore()
    sample = Dataset.File.from_files((datastore, "samples/"), validate=False)

    model.update(
        tags={"stage": "prod"},
        description="second",
        properties={"q": "y"},
        sample_input_dataset=sample,
        resource_configuration={"cpu": 1},
    )

    expected = (1, {"stage": "prod"}, {"p": "x", "q": "y"}, "second")
    assert (model.version, model.tags, model.properties, model.description) == (
        expected[0],
        expected[1],
        expected[2],
        expected[3],
    )
    assert _state(workspace) == expected
    assert _state(workspace, 2) == (2, {"other": "version"}, {}, None)
    assert sorted(m.id for m in Model.list(workspace)) == ["m:1", "m:2"]
    extras = Model(workspace, "m", version=1)._record.extras
    assert extras["sample_input_dataset"] == sample.id
    assert extras["resource_configuration"] == {"cpu": 1}

    model.update()  # nothing given: nothing changes
    assert _state(workspace) == expected


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"tags": {"new": "1"}, "properties": {"p": "other"}},
            ModelPropertyError,
            r"model m:1: properties \['p'\] are set already and cannot be changed",
        ),
        (
            {"tags": {"new": "1"}, "description": 3},
            ModelArgumentError,
            "description must be a str, not int",
        ),
        (
            {"tags": ["new"]},
            ModelArgumentError,
            "tags must be a dict of str to str, not list",
        ),
        (
            {"description": "d", "sample_output_dataset": "not a dataset"},
            ModelArgumentError,
            "sample_output_dataset must be a FileDataset or TabularDataset, not str",
        ),
    ],
)
def test_a_bad_update_changes_nothing(
    workspace: Workspace,
    model_file: Path,
    kwargs: dict[str, object],
    error: type[Exception],
    match: str,
) -> None:
    from azureml.core import Model

    model = Model.register(
        workspace, str(model_file), "m", tags={"a": "1"}, properties={"p": "x"}
    )

    with pytest.raises(error, match=match):
        model.update(**kwargs)  # type: ignore[arg-type]

    assert _state(workspace) == (1, {"a": "1"}, {"p": "x"}, None)
    assert model.tags == {"a": "1"}


def test_changes_through_stale_objects_are_all_kept(
    workspace: Workspace, model_file: Path
) -> None:
    from azureml.core import Model

    Model.register(workspace, str(model_file), "m", tags={"keep": "1", "drop": "2"})
    first, second = Model(workspace, "m"), Model(workspace, "m")

    first.add_tags({"a": "1"})
    second.add_tags({"b": "2"})  # second did not see "a": it is kept anyway
    first.remove_tags(["drop"])
    second.add_properties({"p": "x"})
    first.add_properties({"q": "y"})

    assert _state(workspace) == (
        1,
        {"keep": "1", "a": "1", "b": "2"},
        {"p": "x", "q": "y"},
        None,
    )
    with pytest.raises(ModelPropertyError, match=r"properties \['p'\] are set"):
        first.add_properties({"p": "changed"})
    with pytest.raises(ModelArgumentError, match="tags must be a dict"):
        first.add_tags(["a"])  # type: ignore[arg-type]
    with pytest.raises(ModelArgumentError, match="properties must be a dict"):
        first.add_properties("p")  # type: ignore[arg-type]


def test_changing_a_deleted_version_says_so(
    workspace: Workspace, model_file: Path
) -> None:
    from azureml.core import Model

    model = Model.register(workspace, str(model_file), "m")
    Model(workspace, "m").delete()

    with pytest.raises(ModelNotFoundError, match="Model with name m, version 1 not"):
        model.update(description="late")
