"""The ``azureml`` package of the Azure ML SDK v1, served by dataferry (opt-in).

Every module path of the name table ``dataferry._names.AZUREML`` (``azureml.core``,
``azureml.data.datapath``, ``azureml.pipeline.steps``...) is made on import by the
finder below, and each of its names resolves on first use to dataferry's object, so v1
programs and their step scripts run with no edit. ``import azureml.core`` reads the
table and imports nothing more than ``import dataferry`` does.

It refuses to load where the real SDK (the ``azureml-core`` distribution) is installed:
both would claim ``azureml.core``, and which one a program got would depend on the
order of ``sys.path``.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
from typing import TYPE_CHECKING, Any, cast

from dataferry._names import AZUREML

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from importlib.abc import Loader
    from types import ModuleType

DISTRIBUTION = "dataferry-azureml"
REAL_SDK = "azureml-core"


def _real_sdk() -> str | None:
    """Where the real SDK's metadata (``azureml_core-*.dist-info``) is on ``sys.path``.

    Read with ``os.scandir`` rather than ``importlib.metadata``, which would double
    the modules ``import azureml.core`` loads.
    """
    prefix = REAL_SDK.replace("-", "_") + "-"
    for entry in sys.path:
        try:
            with os.scandir(entry or ".") as found:
                for item in found:
                    name = item.name.lower()
                    if name.startswith(prefix) and name.endswith(_METADATA_DIRS):
                        return item.path
        except OSError:  # a zip file, a missing folder: no installed distribution
            continue
    return None


_METADATA_DIRS = (".dist-info", ".egg-info")


def _refuse_to_shadow() -> None:
    real = _real_sdk()
    if real is None:
        return
    from dataferry.errors import CompatShadowError  # difflib and all: only to fail

    raise CompatShadowError(
        f"the Azure ML SDK '{REAL_SDK}' is installed ({real}), and dataferry's "
        f"compatibility package '{DISTRIBUTION}' ({__file__}) would shadow it: both "
        f"provide 'azureml.core'. Keep one: `pip uninstall {DISTRIBUTION}` to use "
        f"Azure ML, or `pip uninstall {REAL_SDK}` to run v1 programs with dataferry."
    )


def _packages(paths: Sequence[str]) -> frozenset[str]:
    """Every module path that is the parent of another (it needs a ``__path__``)."""
    parents: set[str] = set()
    for path in paths:
        parts = path.split(".")
        parents.update(".".join(parts[:i]) for i in range(2, len(parts)))
    return frozenset(parents)


_PACKAGES = _packages(list(AZUREML))
_MODULES = frozenset(AZUREML) | _PACKAGES


def _lazy_names(
    module: str, table: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``(__getattr__, __dir__)`` of a module serving ``table`` (name ->
    ``"dataferry.module:attribute"``), importing each target on first use."""

    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(
                f"module '{module}' has no attribute {name!r}: dataferry does not "
                "provide it (the names it serves are in dataferry._names.AZUREML)"
            )
        source, _, attribute = target.partition(":")
        value = getattr(importlib.import_module(source), attribute)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *table})

    return __getattr__, __dir__


class AzuremlFinder:
    """Makes the modules of the name table; other ``azureml.*`` paths are left alone."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        """A spec for a module path of the table (or a parent of one), else None."""
        if fullname not in _MODULES:
            return None
        # a Loader by protocol; subclassing importlib.abc would cost an import
        loader = cast("Loader", self)
        return importlib.machinery.ModuleSpec(
            fullname, loader, is_package=fullname in _PACKAGES
        )

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        """The default module object."""
        return None

    def exec_module(self, module: ModuleType) -> None:
        """Give ``module`` its names, each imported on first use."""
        table = AZUREML.get(module.__name__, {})
        namespace = module.__dict__
        namespace["__getattr__"], namespace["__dir__"] = _lazy_names(
            module.__name__, table, namespace
        )
        namespace["__all__"] = sorted(table)
        # v1 code reads azureml.core.__file__ (to find the SDK's folder, or print it):
        # every served module names this file, the one that serves it
        namespace["__file__"] = __file__
        namespace["__doc__"] = (
            f"{module.__name__}, served by dataferry ({DISTRIBUTION})."
        )


_refuse_to_shadow()
if not any(isinstance(f, AzuremlFinder) for f in sys.meta_path):
    # first: the table's paths win over a stray file of the same name
    sys.meta_path.insert(0, AzuremlFinder())
