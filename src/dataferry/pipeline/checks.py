"""Type checks for the arguments of the public pipeline classes.

A wrong type is a programmer mistake. It raises ``PipelineTypeError`` (a ``TypeError``)
when the object is built, naming the argument and the types it takes, instead of an
``AttributeError`` or a silently wrong value far from the cause.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

# re-exported: the pipeline layer recognises data objects without importing their classes
from dataferry.data.kinds import is_datastore as is_datastore
from dataferry.data.kinds import is_instance_of as is_instance_of
from dataferry.data.kinds import is_workspace as is_workspace
from dataferry.errors import PipelineTypeError

WORKSPACE_KIND = "a Workspace (Workspace.from_config() or Workspace.get(name))"


def describe(value: Any) -> str:
    """``str ('ws')``: a value's type and a short repr on one line, for messages."""
    text = repr(value).replace("\n", " ")
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} ({text})"


def type_error(where: str, expected: str, value: Any) -> PipelineTypeError:
    """``<where> must be <expected>, not <type> (<repr>)``."""
    return PipelineTypeError(f"{where} must be {expected}, not {describe(value)}")


def check_workspace(value: Any, where: str) -> None:
    """Raises PipelineTypeError unless ``value`` is a Workspace."""
    if not is_workspace(value):
        raise type_error(f"{where}: workspace", WORKSPACE_KIND, value)


def check_type(
    value: Any, kinds: type | tuple[type, ...], where: str, expected: str
) -> None:
    """Raises PipelineTypeError unless ``value`` is None or of one of ``kinds``."""
    if value is not None and not isinstance(value, kinds):
        raise type_error(where, expected, value)


def check_bool(value: Any, where: str) -> bool:
    """``value`` if it is a bool; a PipelineTypeError otherwise (``'no'`` is not False)."""
    if not isinstance(value, bool):
        raise type_error(where, "True or False", value)
    return value


def as_list(value: Any, where: str) -> list[Any]:
    """A list or tuple (or None: empty) as a list; anything else is refused.

    A string is refused too: iterating it would make one entry per character.
    """
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise type_error(where, "a list", value)
    return list(value)


def as_dict(value: Any, where: str) -> dict[str, Any]:
    """A mapping with string keys (or None: empty) as a dict; anything else is refused."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise type_error(where, "a dict", value)
    for key in value:
        if not isinstance(key, str):
            raise type_error(f"{where}: each key", "a str", key)
    return dict(value)


def as_path_text(value: Any, where: str) -> str | None:
    """A folder given as a str or a path-like object, as text (None stays None)."""
    if value is None:
        return None
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(text, str):
        raise type_error(where, "a str or a path", value)
    return text


def as_str_list(value: Any, where: str) -> list[str]:
    """A list of strings (or None: empty); one string instead of a list is refused."""
    items = as_list(value, where)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise type_error(f"{where}[{i}]", "a str", item)
    return items
