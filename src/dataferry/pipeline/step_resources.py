"""What one step asks its compute target's nodes for (a dataferry option).

The SDK has no per-step resource fields (``RunConfiguration`` names a target, whose
VM size decides), so a step's own ask is ``runconfig.step_resources``: ``num_cpus``,
``num_gpus``, ``memory`` (bytes) and custom ``resources``. On a Ray target they are
the step's task options, on top of the target's (a key the step sets replaces the
target's; custom resources are merged); a local target runs the step as a process.
"""

from __future__ import annotations

import math
from typing import Any

from dataferry.errors import PipelineTypeError, StepDefinitionError

KEYS = ("num_cpus", "num_gpus", "memory", "resources")


def check_step_resources(value: Any, where: str) -> dict[str, Any]:
    """``value`` checked and copied: a dict of ``KEYS`` with numbers 0 or more.

    Args:
        value: None (nothing asked) or a dict such as ``{"num_cpus": 2,
            "resources": {"disk": 1}}``.
        where: who set it, for the message.

    Returns:
        The ask, as floats (``memory`` an int), without the keys left unset.

    Raises:
        PipelineTypeError: not a dict, a custom resource name not a str, or an amount
            not a number.
        StepDefinitionError: an unknown key, or an amount negative or not finite.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PipelineTypeError(
            f"{where} must be a dict of {', '.join(KEYS)}, not "
            f"{type(value).__name__} ({value!r})"
        )
    unknown = sorted(str(k) for k in value if k not in KEYS)
    if unknown:
        raise StepDefinitionError(
            f"{where} has unknown key(s) {', '.join(map(repr, unknown))}; it takes "
            f"{', '.join(KEYS)}"
        )
    ask: dict[str, Any] = {}
    for key in ("num_cpus", "num_gpus", "memory"):
        if value.get(key) is not None:
            amount = _amount(value[key], f"{where}[{key!r}]")
            ask[key] = int(amount) if key == "memory" else amount
    custom = value.get("resources")
    if custom is not None:
        if not isinstance(custom, dict):
            raise PipelineTypeError(
                f"{where}['resources'] must be a dict of resource name to amount, "
                f"not {type(custom).__name__} ({custom!r})"
            )
        ask["resources"] = {
            _name(name, where): _amount(amount, f"{where}['resources'][{name!r}]")
            for name, amount in custom.items()
        }
    return ask


def _name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name:
        raise PipelineTypeError(
            f"{where}['resources'] names must be non-empty str, not {name!r}"
        )
    return name


def _amount(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PipelineTypeError(
            f"{where} must be a number, not {type(value).__name__} ({value!r})"
        )
    if value < 0 or not math.isfinite(value):
        raise StepDefinitionError(f"{where} must be 0 or more, not {value}")
    return float(value)
