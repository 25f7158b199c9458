"""Parameter types shared by the commands."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # newer click makes ParamType generic; older click does not
    _ParamType = click.ParamType[tuple[str, Any], Any]
else:
    _ParamType = click.ParamType


class KeyValueType(_ParamType):
    """``KEY=VALUE`` -> ``(key, value)``; ``parse_json`` reads JSON values: ``true``."""

    name = "key=value"

    def __init__(self, *, parse_json: bool = False) -> None:
        self.parse_json = parse_json

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, Any]:
        if isinstance(value, tuple):
            return value
        key, sep, text = str(value).partition("=")
        if not sep or not key.strip():
            self.fail(f"{value!r} is not KEY=VALUE", param, ctx)
        return key.strip(), _json_or_text(text) if self.parse_json else text


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


KEY_VALUE = KeyValueType()
KEY_JSON_VALUE = KeyValueType(parse_json=True)
