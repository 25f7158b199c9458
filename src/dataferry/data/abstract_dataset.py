"""What every dataset is: an immutable, lazy, serialisable definition, maybe registered."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from dataferry._lazy import LazyPattern
from dataferry.data.seeds import new_seed
from dataferry.data.sources import ResolvedFile, check_http, resolve_sources
from dataferry.errors import (
    DatasetNotRegisteredError,
    InvalidNameError,
    InvalidVersionError,
)

if TYPE_CHECKING:
    from dataferry.catalog import DatasetRecord, DatasetVersionRecord
    from dataferry.data.consumption import DatasetConsumptionConfig
    from dataferry.data.dataset_lineage import DatasetLineage
    from dataferry.data.workspace import Workspace

D = TypeVar("D", bound="AbstractDataset")

_NAME_RE = LazyPattern(r"^[A-Za-z0-9][\w.\- ]{0,254}$")


def check_dataset_name(name: object) -> str:
    """``name`` if it can name a dataset (checked before anything is registered).

    Raises:
        InvalidNameError: not 1-255 letters, digits, ``_ . -`` or spaces, starting
            with a letter or digit.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidNameError(
            f"invalid dataset name {name!r}: start with a letter or digit, then up to "
            "254 letters, digits, '_', '.', '-' or spaces."
        )
    return name


def parse_version(version: object) -> int | None:
    """``'latest'`` -> None; a positive int or a string of ASCII digits (surrounding
    blanks allowed) -> int.

    Raises:
        InvalidVersionError: anything else (``0``, ``-1``, ``'newest'``, ``1.5``,
            ``'1_0'``, other scripts' digits, a number beyond ``MAX_VERSION``).
    """
    if version == "latest" or version is None:
        return None
    number = None
    if isinstance(version, int) and not isinstance(version, bool):
        number = version
    # ASCII only: int() also reads '1_0' and other scripts' digits, and a long text
    # of digits is a ValueError of its own rather than a refusal
    elif isinstance(version, str) and _DIGITS.fullmatch(version.strip()):
        number = int(version)
    if number is None or not 1 <= number <= MAX_VERSION:
        raise InvalidVersionError(
            f"Invalid value {_shown(version)} for version. Version value must be "
            f'number or "latest"; versions start at 1 (at most {MAX_VERSION}).'
        )
    return number


MAX_VERSION = 2**63 - 1  # what the catalog's integer column holds
_DIGITS = LazyPattern(r"[0-9]{1,19}")


def _shown(version: object) -> str:
    """``version`` for a message, a long one cut short."""
    text = repr(version)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(text)} characters)"


class AbstractDataset:
    """The shared part of ``TabularDataset`` and ``FileDataset``."""

    _kind = ""

    def __init__(
        self,
        definition: Mapping[str, Any],
        workspace: Workspace | None = None,
        *,
        registration: DatasetVersionRecord | None = None,
        dataset_id: str | None = None,
    ) -> None:
        self._definition = copy.deepcopy(dict(definition))
        self._workspace = workspace
        self._registration = registration
        self._id = dataset_id

    # -- identity ---------------------------------------------------------------------

    @property
    def id(self) -> str | None:
        """The saved definition's id; reading it saves the definition if it has a workspace."""
        if self._id is None and self._workspace is not None:
            self._id = self._workspace.catalog.save_dataset(
                self._kind, self._stored_definition(self._workspace)
            ).id
        return self._id

    @property
    def name(self) -> str | None:
        """The registered name, or None."""
        return self._registration.name if self._registration else None

    @property
    def version(self) -> int | None:
        """The registered version, or None."""
        return self._registration.version if self._registration else None

    def get_lineage(self) -> DatasetLineage:
        """This registered version's lineage (a dataferry addition: the SDK has no
        call for it): the run and step that made it, the runs that read it.

        Returns:
            A ``DatasetLineage`` (``produced_by``, ``read_by``, ``reading_runs``).

        Raises:
            DatasetNotRegisteredError: the dataset is not registered in a workspace.
        """
        from dataferry.data.dataset_lineage import dataset_lineage

        if self._registration is None or self._workspace is None:
            raise DatasetNotRegisteredError(
                "get_lineage() needs a registered dataset; get it with "
                "Dataset.get_by_name(workspace, name, version) or register it first."
            )
        return dataset_lineage(
            self._workspace, self._registration.name, self._registration.version
        )

    @property
    def description(self) -> str | None:
        """The registration's description, or None."""
        return self._registration.description if self._registration else None

    @property
    def tags(self) -> dict[str, str] | None:
        """The registration's tags, or None."""
        return dict(self._registration.tags) if self._registration else None

    @property
    def workspace(self) -> Workspace | None:
        """The workspace whose datastores the definition reads."""
        return self._workspace

    @property
    def definition(self) -> dict[str, Any]:
        """The definition as JSON-able data (sources, format, transforms)."""
        return copy.deepcopy(self._definition)

    def _stored_definition(self, workspace: Workspace) -> dict[str, Any]:
        """The definition as the catalog keeps it: local paths in the project relative
        to the workspace folder, so every machine resolves them in its own copy."""
        from dataferry.data.machine_paths import portable_definition

        return portable_definition(workspace.path, self._definition)

    def to_json(self) -> str:
        """The dataset as JSON; ``AbstractDataset.from_json`` turns it back."""
        return json.dumps({"kind": self._kind, "definition": self._definition})

    @staticmethod
    def from_json(text: str, workspace: Workspace | None = None) -> AbstractDataset:
        """The dataset a ``to_json`` string describes."""
        data = json.loads(text)
        return build_dataset(data["kind"], data["definition"], workspace)

    def __getstate__(self) -> dict[str, Any]:
        # pickled into other processes (steps, Ray tasks): carry the workspace as a path
        state = dict(self.__dict__)
        ws = state.pop("_workspace")
        state["_workspace_path"] = str(ws.path) if ws is not None else None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        path = state.pop("_workspace_path")
        self.__dict__.update(state)
        if path is None:
            self._workspace = None
        else:
            from dataferry.data.workspace import Workspace

            self._workspace = Workspace(path=Path(path))

    # -- derivation -------------------------------------------------------------------

    def _derive(self: D, transform: dict[str, Any]) -> D:
        definition = self.definition
        definition["transforms"] = [*definition.get("transforms", []), transform]
        return type(self)(definition, self._workspace)

    def _seeded(self, seed: int | None) -> int:
        # Unlike the original SDK (`seed or random`), seed=0 is a real seed.
        if seed is None:
            return new_seed()
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, not {seed!r}")
        return seed

    @staticmethod
    def _check_count(count: object, method: str) -> int:
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{method}: count must be an int >= 0, not {count!r}")
        return count

    def take(self: D, count: int) -> D:
        """The first ``count`` records (files, for a file dataset)."""
        return self._derive({"op": "take", "count": self._check_count(count, "take")})

    def skip(self: D, count: int) -> D:
        """All but the first ``count`` records."""
        return self._derive({"op": "skip", "count": self._check_count(count, "skip")})

    def take_sample(self: D, probability: float, seed: int | None = None) -> D:
        """Each record kept with ``probability``, decided by ``(seed, record position)``."""
        if not isinstance(probability, int | float) or not 0.0 <= probability <= 1.0:
            raise ValueError(
                f"probability must be between 0 and 1, not {probability!r}"
            )
        return self._derive(
            {
                "op": "sample",
                "probability": float(probability),
                "seed": self._seeded(seed),
            }
        )

    def random_split(
        self: D, percentage: float, seed: int | None = None
    ) -> tuple[D, D]:
        """Two disjoint datasets: about ``percentage`` of the records, and the rest.

        A record's side depends only on ``(seed, record position)``, so the split is the
        same in every process and for any batch size, and the halves are complementary.
        """
        if not isinstance(percentage, int | float) or not 0.0 <= percentage <= 1.0:
            raise ValueError(f"percentage must be between 0 and 1, not {percentage!r}")
        seed = self._seeded(seed)
        base = {"op": "split", "percentage": float(percentage), "seed": seed}
        return self._derive({**base, "part": 0}), self._derive({**base, "part": 1})

    # -- files ------------------------------------------------------------------------

    def _source_files(self, *, check_urls: bool = False) -> list[ResolvedFile]:
        files = resolve_sources(self._definition["sources"], self._workspace)
        if check_urls:
            check_http(files)
        return files

    # -- consumption ------------------------------------------------------------------

    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        """Bind this dataset to a step under ``name`` (direct mode)."""
        from dataferry.data.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(name, self)

    # -- registry ---------------------------------------------------------------------

    def register(
        self: D,
        workspace: Workspace,
        name: str,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        create_new_version: bool = False,
    ) -> D:
        """Register under ``name``; returns the registered dataset (``self`` is unchanged).

        Raises:
            InvalidNameError: the name is not 1-255 letters, digits, ``_ . -`` or spaces.
            DatasetExistsError: the name is taken and ``create_new_version`` is False.
        """
        check_dataset_name(name)
        if tags is not None and not isinstance(tags, Mapping):
            raise TypeError(
                f"tags must be a dict of str to str, not {type(tags).__name__}"
            )
        record = workspace.catalog.save_dataset(
            self._kind, self._stored_definition(workspace)
        )
        version = workspace.catalog.register_version(
            name,
            record.id,
            description=description,
            tags=tags,
            create_new_version=create_new_version,
        )
        return type(self)(
            self._definition, workspace, registration=version, dataset_id=record.id
        )

    @staticmethod
    def get_by_name(
        workspace: Workspace, name: str, version: int | str = "latest", **kwargs: Any
    ) -> AbstractDataset:
        """A registered dataset by name; ``version`` is an int, an int string or 'latest'.

        Raises:
            InvalidVersionError: the version is not a positive integer or 'latest'.
            DatasetNotFoundError: no such name or version (the message gives the latest).
        """
        if kwargs:
            raise TypeError(
                f"get_by_name() got unexpected keyword arguments {sorted(kwargs)}"
            )
        number = parse_version(version)
        reg = workspace.catalog.get_version(name, number)
        record = workspace.catalog.get_dataset(reg.dataset_id)
        return _from_record(workspace, record, reg)

    @staticmethod
    def get_by_id(workspace: Workspace, id: str, **kwargs: Any) -> AbstractDataset:
        """A saved dataset by id (with name and version if it was registered).

        Raises:
            DatasetNotFoundError: no dataset has that id.
        """
        if kwargs:
            raise TypeError(
                f"get_by_id() got unexpected keyword arguments {sorted(kwargs)}"
            )
        record = workspace.catalog.get_dataset(id)
        versions = workspace.catalog.versions_of_dataset(id)
        reg = versions[-1] if versions else None
        return _from_record(workspace, record, reg)

    @staticmethod
    def get_all(workspace: Workspace) -> dict[str, AbstractDataset]:
        """The latest version of every registered dataset, by name."""
        out: dict[str, AbstractDataset] = {}
        for reg in workspace.catalog.latest_versions():
            record = workspace.catalog.get_dataset(reg.dataset_id)
            out[reg.name] = _from_record(workspace, record, reg)
        return out

    def __repr__(self) -> str:
        shown: dict[str, Any] = {
            "source": [_show(s) for s in self._definition["sources"]]
        }
        if self._definition.get("transforms"):
            shown["transforms"] = [t["op"] for t in self._definition["transforms"]]
        if self._registration:
            shown["registration"] = {
                "name": self.name,
                "version": self.version,
                "id": self._id,
            }
        return f"{type(self).__name__}\n{json.dumps(shown, indent=2)}"


def _show(source: Mapping[str, str]) -> str:
    if "datastore" in source:
        return f"('{source['datastore']}', '{source['path']}')"
    return source.get("url") or source.get("local", "")


def _from_record(
    workspace: Workspace, record: DatasetRecord, reg: DatasetVersionRecord | None
) -> AbstractDataset:
    """The dataset a saved definition describes, with its registration if any."""
    return build_dataset(
        record.kind,
        record.definition,
        workspace,
        registration=reg,
        dataset_id=record.id,
    )


def build_dataset(
    kind: str,
    definition: Mapping[str, Any],
    workspace: Workspace | None,
    *,
    registration: DatasetVersionRecord | None = None,
    dataset_id: str | None = None,
) -> AbstractDataset:
    from dataferry.data.file_dataset import FileDataset
    from dataferry.data.tabular_dataset import TabularDataset

    cls: type[AbstractDataset] = TabularDataset if kind == "tabular" else FileDataset
    return cls(definition, workspace, registration=registration, dataset_id=dataset_id)
