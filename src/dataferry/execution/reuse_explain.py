"""Why a step runs again: what differs between its fingerprint and its last run's.

Each reason names the real change: a source file, an input's files or the path it now
points at, a parameter, a port (renamed, added, removed, another mode or destination),
the arguments, the step's definition or its environment. Generated port names are not
part of a fingerprint (``port_identity``), so they are never a reason; a name the user
gave, took away or changed is, and the reason says that only the name changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataferry.catalog.run_store import StepRunRecord

FIRST_RUN = "run: first run of this step, nothing to reuse"
# what an input reads: when its content digest changed too, the input's reason says how
_SOURCE_FIELDS = frozenset(
    {"kind", "datastore", "path", "param", "dataset", "producer", "output", "view"}
)
# compared, but their values are too big or too internal to show
_UNSHOWN = frozenset({"dataset", "producer", "output", "view", "register"})
_LABELS = {
    "path_template": "destination",
    "register": "registration",
    "producer": "producing step",
    "output": "upstream output it reads",
    "view": "view of the upstream output",
}
_SHOWN_FILES = 3

Port = tuple[dict[str, Any], str]  # (the port as the fingerprint sees it, its name)


def why_changed(new: dict[str, Any], previous: StepRunRecord | None) -> str:
    """Why a step that matches no earlier run runs.

    Args:
        new: the step's fingerprint details (``Fingerprint.to_details()``).
        previous: the last finished run of a step of that name, or None.

    Returns:
        ``run: first run ...`` without an earlier run, else ``rerun: `` and every
        difference, joined by ``; ``.
    """
    if previous is None or "fingerprint" not in previous.details:
        return FIRST_RUN
    old: dict[str, Any] = previous.details["fingerprint"]
    changed = _changed_inputs(old, new)
    if "ports" in old:
        ports = _port_reasons(old, new, set(changed))
        moved = bool(ports) or _any_source_moved(old, new, changed)
        wiring = [*_argument_reasons(old, new), *ports]
        wiring += _binding_fallback(old, new, moved)
    else:
        wiring = _unported_reasons(old, new)
    reasons = [
        *_source_reasons(old, new),
        *(_input_reason(old, new, key) for key in changed),
        *_parameter_reasons(old, new),
        *wiring,
        *_part_reasons(old, new),
    ]
    return "rerun: " + (
        "; ".join(reasons) if reasons else "inputs or definition changed"
    )


# -- source files -------------------------------------------------------------------


def _source_reasons(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    if old["parts"]["source"] == new["parts"]["source"]:
        return []
    before: dict[str, str] = old.get("source_files", {})
    after: dict[str, str] = new["source_files"]
    changed = sorted(p for p in after if p in before and before[p] != after[p])
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    parts = [f"source file {p} changed" for p in changed[:_SHOWN_FILES]]
    parts += [f"source file {p} added" for p in added[:_SHOWN_FILES]]
    parts += [f"source file {p} removed" for p in removed[:_SHOWN_FILES]]
    extra = len(changed) + len(added) + len(removed) - len(parts)
    if extra > 0:
        parts.append(f"{extra} more source files differ")
    return ["; ".join(parts) or "source files changed"]


# -- inputs -------------------------------------------------------------------------


def _changed_inputs(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Inputs (by identity) whose digest differs; a new input is a port reason instead.

    Against a run recorded before ports were kept, an input that is not in it is
    reported too, unless its name is generated (the run knew it by another random name).
    """
    before: dict[str, str] = old["parts"]["inputs"]
    generated = {s["name"] for s in new["ports"]["inputs"] if s.get("auto_name")}
    return [
        key
        for key, digest in new["parts"]["inputs"].items()
        if before.get(key) != digest
        and (key in before or ("ports" not in old and key not in generated))
    ]


def _input_reason(old: dict[str, Any], new: dict[str, Any], key: str) -> str:
    label = f"input '{_name_of(new, 'inputs', key)}'"
    was: dict[str, Any] | None = old.get("input_sources", {}).get(key)
    now: dict[str, Any] = new["input_sources"][key]
    if "producer" in now:
        return _upstream_reason(label, was, now)
    files = _file_difference(
        old.get("input_files", {}).get(key), new["input_files"].get(key)
    )
    if was is None:  # recorded before sources were kept
        if files == "same content":
            return f"{label} changed: its path or definition changed; same content"
        return f"{label} changed: {files}" if files else f"{label} changed"
    if _where(was) != _where(now):
        head = f"{label} now points at another path: {_where(now)} (was {_where(was)})"
    elif was != now:
        head = f"{label} changed: its dataset definition changed"
    else:
        return f"{label} changed: {files}" if files else f"{label} changed"
    return f"{head}; {files}" if files else head


def _upstream_reason(
    label: str, was: dict[str, Any] | None, now: dict[str, Any]
) -> str:
    producer = now["producer"]
    reads = f"output '{now['output']}' of step '{producer}'"
    if was is not None and "producer" not in was:
        return f"{label} now reads {reads} (was {_where(was)})"
    if was is not None and (was["producer"], was["output_id"]) != (
        producer,
        now["output_id"],
    ):
        return f"{label} now reads {reads} (was {_where(was)})"
    if was is not None and was.get("view") != now.get("view"):
        return (
            f"{label} changed: it reads step '{producer}''s output through another view"
        )
    return f"{label} changed: upstream step '{producer}' produced new output"


def _where(source: dict[str, Any]) -> str:
    """Where an input reads: ``store:/path`` (each source of a dataset) or a step output."""
    if "producer" in source:
        return f"output '{source['output']}' of step '{source['producer']}'"
    if "definition" in source:
        found = source["definition"].get("sources") or []
        return ", ".join(_where(s) for s in found) or "no files"
    if "datastore" in source:
        return f"{source['datastore']}:/{str(source.get('path') or '').lstrip('/')}"
    return str(source.get("url") or source.get("local") or source)


def _file_difference(
    before: dict[str, str] | None, after: dict[str, str] | None
) -> str | None:
    if before is None or after is None:  # too many files to keep their hashes
        return None
    differ = sum(1 for p in set(before) | set(after) if before.get(p) != after.get(p))
    if differ == 0:
        return "same content"
    return f"{differ} file{' differs' if differ == 1 else 's differ'}"


def _any_source_moved(
    old: dict[str, Any], new: dict[str, Any], changed: list[str]
) -> bool:
    was = old.get("input_sources", {})
    return any(key in was and was[key] != new["input_sources"][key] for key in changed)


# -- parameters, arguments, definition, environment ---------------------------------


def _parameter_reasons(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    before = old["parts"]["parameters"]
    return [
        f"parameter '{name}' changed"
        for name, digest in new["parts"]["parameters"].items()
        if before.get(name) != digest
    ]


def _argument_reasons(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    if old["parts"]["arguments"] == new["parts"]["arguments"]:
        return []
    if "arguments" in old and old["arguments"] == new["arguments"]:
        return []  # the same ports in the same places: a port reason names the rename
    return ["arguments changed"]


def _binding_fallback(
    old: dict[str, Any], new: dict[str, Any], explained: bool
) -> list[str]:
    if old["parts"]["bindings"] == new["parts"]["bindings"] or explained:
        return []
    return ["inputs or outputs changed"]


def _unported_reasons(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Arguments and ports against a run recorded before ports were kept.

    Such a fingerprint hashed every port name, generated ones too: when this step has
    generated names, that alone makes its arguments and ports differ, so say that.
    """
    differ = [
        label
        for key, label in (
            ("arguments", "arguments changed"),
            ("bindings", "inputs or outputs changed"),
        )
        if old["parts"][key] != new["parts"][key]
    ]
    has_generated = any(
        spec.get("auto_name")
        for kind in ("inputs", "outputs")
        for spec in new["ports"][kind]
    )
    if differ and has_generated:
        return [
            "the last run was fingerprinted by an earlier dataferry, with this step's "
            "generated port names in it; generated names no longer count"
        ]
    return differ


def _part_reasons(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [
        label
        for key, label in (
            ("definition", "step definition changed"),
            ("environment", "runtime environment changed"),
        )
        if old["parts"][key] != new["parts"][key]
    ]


# -- ports --------------------------------------------------------------------------


def _port_reasons(
    old: dict[str, Any], new: dict[str, Any], changed: set[str]
) -> list[str]:
    reasons = []
    for kind, what in (("inputs", "input"), ("outputs", "output")):
        covered = changed if kind == "inputs" else set()
        reasons += _compare_ports(what, _ports(old, kind), _ports(new, kind), covered)
    return reasons


def _ports(details: dict[str, Any], kind: str) -> list[Port]:
    specs: list[dict[str, Any]] = details["ports"][kind]
    names: list[str] = details["port_names"][kind]
    return list(zip(specs, names, strict=True))


def _name_of(details: dict[str, Any], kind: str, key: str) -> str:
    """The name a port has in this run (its identity may be a generated name's token)."""
    if "ports" not in details:
        return key
    return next(
        (name for spec, name in _ports(details, kind) if spec["name"] == key), key
    )


def _compare_ports(
    what: str, before: list[Port], after: list[Port], covered: set[str]
) -> list[str]:
    pairs, added, removed = _match(before, after)
    reasons = []
    for (was, old_name), (now, name) in pairs:
        renamed = _rename_reason(what, was, old_name, now, name)
        if renamed:
            reasons.append(renamed)
        skip = _SOURCE_FIELDS if now["name"] in covered else frozenset()
        reasons += _field_reasons(f"{what} '{name}'", was, now, skip)
    reasons += [f"{what} '{name}' added" for _, name in added]
    reasons += [f"{what} '{name}' removed" for _, name in removed]
    if not reasons and [p["name"] for p, _ in before] != [p["name"] for p, _ in after]:
        reasons.append(f"the order of the {what}s changed")
    return reasons


def _match(
    before: list[Port], after: list[Port]
) -> tuple[list[tuple[Port, Port]], list[Port], list[Port]]:
    """Pairs of the same port (same identity, else the same kind of name, in order)."""
    at = {spec["name"]: i for i, (spec, _) in enumerate(before)}
    pairs = [(before[at[s["name"]]], (s, n)) for s, n in after if s["name"] in at]
    matched = {s["name"] for s, _ in after} & set(at)
    left_old = [p for p in before if p[0]["name"] not in matched]
    left_new = [p for p in after if p[0]["name"] not in matched]
    # a generated name pairs with a generated one, a given name with a given one, first
    for generated in (True, False, None):
        olds = [p for p in left_old if generated in (None, _generated(p))]
        news = [p for p in left_new if generated in (None, _generated(p))]
        for was, now in zip(olds, news, strict=False):
            pairs.append((was, now))
            left_old.remove(was)
            left_new.remove(now)
    return pairs, left_new, left_old


def _generated(port: Port) -> bool:
    return bool(port[0].get("auto_name"))


def _rename_reason(
    what: str, was: dict[str, Any], old_name: str, now: dict[str, Any], name: str
) -> str | None:
    """A name-only difference, said as such; two generated names are no difference."""
    if was["name"] == now["name"] or (was.get("auto_name") and now.get("auto_name")):
        return None
    if not was.get("auto_name") and not now.get("auto_name"):
        return f"{what} '{old_name}' renamed to '{name}'"
    if now.get("auto_name"):
        return (
            f"{what} '{old_name}' lost its name: it now has the generated name '{name}'"
        )
    return f"{what} '{name}' was unnamed before (generated name '{old_name}')"


def _field_reasons(
    label: str, was: dict[str, Any], now: dict[str, Any], skip: frozenset[str]
) -> list[str]:
    reasons = []
    for key in sorted((set(was) | set(now)) - {"name", "auto_name"} - skip):
        before, after = was.get(key), now.get(key)
        if before == after:
            continue
        field = _LABELS.get(key, key)
        if key in _UNSHOWN or isinstance(before, dict) or isinstance(after, dict):
            reasons.append(f"{label}: {field} changed")
        else:
            reasons.append(f"{label}: {field} changed from {before!r} to {after!r}")
    return reasons
