"""Which registered model versions a lookup or a listing means: the SDK's filters.

Tag and property filters are lists whose items are ``"key"`` (the key is set) or
``["key", "value"]`` (set to that value); every item must hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataferry.errors import ModelArgumentError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dataferry.catalog.model_store import ModelRecord, ModelStore

Condition = tuple[str, Any]  # (key, value); value None means "the key is set"


def _conditions(given: Sequence[Any] | None, what: str) -> tuple[Condition, ...]:
    if given is None:
        return ()
    if not isinstance(given, list | tuple):
        raise ModelArgumentError(
            f'{what} must be a list of "key" or ["key", "value"] items, e.g. '
            f"[['area', 'iris']], not {type(given).__name__}"
        )
    out: list[Condition] = []
    for item in given:
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, list | tuple) and len(item) == 2:
            out.append((str(item[0]), item[1]))
        else:
            raise ModelArgumentError(
                f'{what}: {item!r} is neither "key" nor ["key", "value"]'
            )
    return tuple(out)


def _holds(conditions: tuple[Condition, ...], values: Mapping[str, Any]) -> bool:
    return all(
        key in values and (want is None or str(values[key]) == str(want))
        for key, want in conditions
    )


@dataclass(frozen=True)
class ModelFilter:
    """The filters of ``Model.list`` and ``Model(...)`` besides name and run id."""

    tags: tuple[Condition, ...] = ()
    properties: tuple[Condition, ...] = ()
    framework: str | None = None
    dataset_id: str | None = None
    version: int | None = None

    @classmethod
    def of(
        cls,
        tags: Sequence[Any] | None,
        properties: Sequence[Any] | None,
        framework: str | None = None,
        dataset_id: str | None = None,
        version: int | None = None,
    ) -> ModelFilter:
        """A filter from the SDK's arguments.

        Raises:
            ModelArgumentError: ``tags`` or ``properties`` is not such a list.
        """
        return cls(
            _conditions(tags, "tags"),
            _conditions(properties, "properties"),
            framework,
            dataset_id,
            version,
        )

    def keeps(self, record: ModelRecord) -> bool:
        """Whether ``record`` passes every filter."""
        return (
            _holds(self.tags, record.tags)
            and _holds(self.properties, record.properties)
            and self.framework in (None, record.framework)
            and self.version in (None, record.version)
            and (
                self.dataset_id is None
                or any(i == self.dataset_id for _, i in record.datasets)
            )
        )


def select_model(
    store: ModelStore,
    name: str,
    wanted: ModelFilter,
    run_id: str | None = None,
) -> ModelRecord:
    """The newest version of ``name`` that ``wanted`` keeps.

    Raises:
        ModelNotFoundError: none does (names the versions there are, or a close name).
    """
    if wanted == ModelFilter(version=wanted.version) and run_id is None:
        return store.get(name, wanted.version)  # the plain lookup: one row read
    found = [r for r in store.list(name=name, run_id=run_id) if wanted.keeps(r)]
    if not found:
        store.get(name, wanted.version)  # raises with the SDK's text when absent
        from dataferry.errors import ModelNotFoundError

        raise ModelNotFoundError(
            f"ModelNotFound: Model with name {name} and the given tags, properties, "
            "run id or framework not found in provided workspace; list what there is "
            f"with Model.list(ws, name='{name}')."
        )
    return found[-1]
