"""Package namespaces that import a name's module on first use (PEP 562).

``import dataferry`` (and each layer package) must stay cheap: a user who only builds a
pipeline never pays for pyarrow or SQLAlchemy. Each package lists ``name -> module`` and
gets its ``__getattr__``/``__dir__`` from here.
"""

from __future__ import annotations

import importlib
import re
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


class LazyPattern:
    """A regular expression compiled on its first use, not when its module is imported.

    A submitting script imports ~20 modules that each define a pattern or two for
    checks most submissions never reach; compiling them all at import cost ~5 ms of CPU.
    Inputs: the pattern and ``re`` flags. The methods are those of ``re.Pattern``;
    a bad pattern raises ``re.error`` at first use (the tests exercise every one).
    """

    __slots__ = ("_compiled", "_flags", "_text")

    def __init__(self, text: str, flags: int = 0) -> None:
        self._text = text
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        """The compiled pattern (compiled once, on the first call)."""
        if self._compiled is None:
            self._compiled = re.compile(self._text, self._flags)
        return self._compiled

    def match(self, string: str) -> re.Match[str] | None:
        """``re.Pattern.match``."""
        return self.compiled.match(string)

    def fullmatch(self, string: str) -> re.Match[str] | None:
        """``re.Pattern.fullmatch``."""
        return self.compiled.fullmatch(string)

    def search(self, string: str) -> re.Match[str] | None:
        """``re.Pattern.search``."""
        return self.compiled.search(string)

    def findall(self, string: str) -> list[Any]:
        """``re.Pattern.findall``."""
        return self.compiled.findall(string)

    def sub(
        self, repl: str | Callable[[re.Match[str]], str], string: str, count: int = 0
    ) -> str:
        """``re.Pattern.sub``."""
        return self.compiled.sub(repl, string, count=count)
