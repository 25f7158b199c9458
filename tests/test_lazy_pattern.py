"""dataferry._lazy.LazyPattern: a pattern compiled on first use, behaving as re's."""

from __future__ import annotations

import importlib
import re

import pytest

from dataferry._lazy import LazyPattern

# the modules whose patterns a submitting script imports without compiling them
MODULES = (
    "dataferry.data.abstract_dataset",
    "dataferry.execution.experiment",
    "dataferry.execution.port_identity",
    "dataferry.pipeline.environment",
    "dataferry.pipeline.graph",
    "dataferry.pipeline.outputs",
    "dataferry.pipeline.parallel_config",
    "dataferry.pipeline.parameters",
    "dataferry.storage.azure_shapes",
    "dataferry.storage.paths",
    "dataferry.storage.spec",
)


def test_compiled_only_on_first_use_and_then_kept() -> None:
    pattern = LazyPattern(r"(\d+)-(\w+)", re.ASCII)
    assert pattern._compiled is None
    assert pattern.match("12-ab x").groups() == ("12", "ab")  # type: ignore[union-attr]
    compiled = pattern.compiled
    assert compiled is pattern.compiled
    assert compiled.flags & re.ASCII


def test_methods_answer_as_re_does() -> None:
    pattern = LazyPattern(r"o(\w)")
    text = "foo bob ox"
    assert pattern.search(text).span() == re.search(r"o(\w)", text).span()  # type: ignore[union-attr]
    assert pattern.findall(text) == ["o", "b", "x"]
    assert pattern.fullmatch("ox") is not None
    assert pattern.fullmatch("oxx") is None
    assert pattern.match(text) is None
    assert pattern.sub("_", text) == "f_ b_ _"
    assert pattern.sub(lambda m: m.group(1).upper(), text, count=1) == "fO bob ox"


def test_a_bad_pattern_fails_at_first_use() -> None:
    pattern = LazyPattern(r"(unclosed")
    with pytest.raises(re.error, match="missing \\), unterminated subpattern"):
        pattern.match("x")


@pytest.mark.parametrize("module", MODULES)
def test_every_module_pattern_compiles(module: str) -> None:
    found = [
        v
        for v in vars(importlib.import_module(module)).values()
        if isinstance(v, LazyPattern)
    ]
    assert found, f"{module} defines no LazyPattern"
    for pattern in found:
        assert isinstance(pattern.compiled, re.Pattern)
