"""Package namespaces that import a name's module on first use (PEP 562).

``import dataferry`` (and each layer package) must stay cheap: a user who only builds a
pipeline never pays for pyarrow or SQLAlchemy. Each package lists ``name -> module`` and
gets its ``__getattr__``/``__dir__`` from here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping, MutableMapping


def lazy_exports(
    package: str, table: Mapping[str, str], namespace: MutableMapping[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``(__getattr__, __dir__)`` pair of a package exporting ``table``'s names.

    Args:
        package: the package's ``__name__``, for the error message.
        table: each exported name -> the module that defines it.
        namespace: the package's ``globals()``; a name is cached there once imported.

    Returns:
        ``__getattr__`` raises ``AttributeError`` for a name not in ``table``.
    """

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module '{package}' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*namespace, *table])

    return __getattr__, __dir__


def logger(name: str) -> logging.Logger:
    """``logging.getLogger(name)``, importing ``logging`` only now: it costs a
    submitting script about 10 ms (it imports ``traceback``, ``threading``...), and the
    client modules that may log (``storage.location``, ``data.datastore``...) rarely do."""
    import logging

    return logging.getLogger(name)
