"""``get_details()['outputDatasets']`` in the SDK's shape, for step and script runs.

One entry per committed output of the step run (a reused step: the outputs it serves):
``{"identifier": {"datastore", "path"[, "registeredId", "registeredVersion"]},
"outputType": "RunOutput", "outputDetails": {"outputName"}, "dataset": <FileDataset>}``.
The dataset is the registered version when the output was registered on completion,
else a definition over the committed folder (nothing is read).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from dataferry.catalog.records import DatasetVersionRecord
    from dataferry.catalog.run_store import OutputRecord
    from dataferry.data.workspace import Workspace


def output_datasets(
    workspace: Workspace,
    outputs: Iterable[OutputRecord],
    registered: Iterable[DatasetVersionRecord] = (),
) -> list[dict[str, Any]]:
    """The entries of ``outputDatasets`` for these committed outputs; ``registered``
    are the dataset versions their step run registered (matched by output name)."""
    versions = {v.producer_output: v for v in registered if v.producer_output}
    out = []
    for rec in outputs:
        identifier: dict[str, Any] = {"datastore": rec.datastore, "path": rec.path}
        version = versions.get(rec.name)
        if version is not None:
            identifier["registeredId"] = version.dataset_id
            identifier["registeredVersion"] = str(version.version)
        out.append(
            {
                "identifier": identifier,
                "outputType": "RunOutput",
                "outputDetails": {"outputName": rec.name},
                "dataset": _dataset(workspace, rec, version),
            }
        )
    return out


def _dataset(
    workspace: Workspace, rec: OutputRecord, version: DatasetVersionRecord | None
) -> Any:
    from dataferry.data import Dataset, Datastore
    from dataferry.data.abstract_dataset import AbstractDataset
    from dataferry.errors import DatasetNotFoundError

    if version is not None:
        try:
            return AbstractDataset.get_by_id(workspace, version.dataset_id)
        except DatasetNotFoundError:  # unregistered since: the folder still serves
            pass
    store = Datastore.get(workspace, rec.datastore)
    return Dataset.File.from_files((store, rec.path.rstrip("/") + "/"), validate=False)
