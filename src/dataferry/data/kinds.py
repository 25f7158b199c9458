"""Is a value a dataset, a DataPath, a Datastore...? Answered without importing the class.

The classes of the data layer bring storage, the catalog and pyarrow with them. The
pipeline layer (and the light modules of this one) must recognise them without loading
any of that: no object can be an instance of a class whose module was never imported, so
a module that is not loaded answers False. Each check is a ``TypeGuard`` so that mypy
narrows the value as ``isinstance`` would.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import TypeGuard

    from dataferry.data.abstract_dataset import AbstractDataset
    from dataferry.data.datapath import DataPath, DataPathComputeBinding, DataReference
    from dataferry.data.datastore import Datastore
    from dataferry.data.tabular_dataset import TabularDataset
    from dataferry.data.workspace import Workspace


def is_instance_of(value: Any, module: str, name: str) -> bool:
    """``isinstance(value, module.name)``, without importing ``module``.

    Returns False when ``module`` is not loaded (nothing can be an instance of it then).
    """
    cls = getattr(sys.modules.get(module), name, None)
    return isinstance(cls, type) and isinstance(value, cls)


def is_dataset(value: Any) -> TypeGuard[AbstractDataset]:
    """True for a FileDataset or TabularDataset."""
    return is_instance_of(value, "dataferry.data.abstract_dataset", "AbstractDataset")


def is_tabular_dataset(value: Any) -> TypeGuard[TabularDataset]:
    """True for a TabularDataset."""
    return is_instance_of(value, "dataferry.data.tabular_dataset", "TabularDataset")


def is_datapath(value: Any) -> TypeGuard[DataPath]:
    """True for a DataPath."""
    return is_instance_of(value, "dataferry.data.datapath", "DataPath")


def is_data_reference(value: Any) -> TypeGuard[DataReference]:
    """True for a DataReference."""
    return is_instance_of(value, "dataferry.data.datapath", "DataReference")


def is_compute_binding(value: Any) -> TypeGuard[DataPathComputeBinding]:
    """True for a DataPathComputeBinding."""
    return is_instance_of(value, "dataferry.data.datapath", "DataPathComputeBinding")


def is_datastore(value: Any) -> TypeGuard[Datastore]:
    """True for a Datastore of any kind."""
    return is_instance_of(value, "dataferry.data.datastore", "Datastore")


def is_workspace(value: Any) -> TypeGuard[Workspace]:
    """True for a Workspace."""
    return is_instance_of(value, "dataferry.data.workspace", "Workspace")
