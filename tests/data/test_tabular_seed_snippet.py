"""The seed's sampling snippet, run as written with only its imports changed."""

from __future__ import annotations

import shutil
from collections import Counter
from importlib import resources
from typing import TYPE_CHECKING

from dataferry import DataPath, Dataset, Datastore, Workspace

if TYPE_CHECKING:
    from pathlib import Path


def test_take_sample_then_random_split(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "training_data"
    folder.mkdir()
    with resources.as_file(
        resources.files("dataferry") / "samples" / "flowers_1.csv"
    ) as sample:
        shutil.copyfile(sample, folder / "iris.csv")
    Datastore.register_local(workspace, "training_data", folder)

    # the seed, verbatim
    # fmt: off
    datastore = Datastore.get(workspace, 'training_data')
    iris_dataset = Dataset.Tabular.from_delimited_files(DataPath(datastore, 'iris.csv'))
    seed = 42
    smaller_dataset = iris_dataset.take_sample(0.1, seed=seed)
    train, test = smaller_dataset.random_split(percentage=0.8, seed=seed)
    # fmt: on

    everything = iris_dataset.to_pandas_dataframe()
    smaller = smaller_dataset.to_pandas_dataframe()
    train_rows = train.to_pandas_dataframe()
    test_rows = test.to_pandas_dataframe()

    assert len(everything) == 500
    assert list(smaller.columns) == [
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
        "species",
    ]
    # 10% of 500 is 50; 5 binomial sigmas are about 34
    assert 16 <= len(smaller) <= 84
    assert 0.5 * len(smaller) <= len(train_rows) <= len(smaller)
    assert len(train_rows) + len(test_rows) == len(smaller)

    def rows(frame: object) -> Counter[tuple[object, ...]]:
        return Counter(map(tuple, frame.itertuples(index=False)))  # type: ignore[attr-defined]

    assert rows(train_rows) + rows(test_rows) == rows(
        smaller
    )  # complete, nothing twice
    assert not rows(smaller) - rows(everything)  # a sample only holds real rows
    # the same seed gives the same rows again
    again = iris_dataset.take_sample(0.1, seed=seed).random_split(
        percentage=0.8, seed=seed
    )[0]
    assert again.to_pandas_dataframe().equals(train_rows)
