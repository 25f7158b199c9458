"""dataferry._record: value classes with the semantics of the dataclass options used."""

from __future__ import annotations

import copy
import pickle
from typing import ClassVar

import pytest

from dataferry._record import FrozenInstanceError, field, record, replace


@record(frozen=True, slots=True)
class Point:
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    note: str = field(default="", compare=False, repr=False)
    unit: ClassVar[str] = "m"


@record(frozen=True, slots=True, kw_only=True)
class Base:
    name: str


@record(frozen=True, slots=True, kw_only=True)
class Child(Base):
    size: int = 1


@record
class Mutable:
    items: list[int] = field(default_factory=list)


def test_init_defaults_factories_and_classvars() -> None:
    p = Point(1)
    assert (p.x, p.y, p.tags, p.note, Point.unit) == (1, 0, [], "", "m")
    assert Point(1).tags is not Point(1).tags  # a factory per instance
    assert Point.__match_args__ == ("x", "y", "tags", "note")
    assert not hasattr(p, "__dict__")


def test_eq_hash_and_repr_follow_compare_and_repr() -> None:
    assert Point(1, 2, note="a") == Point(1, 2, note="b")
    assert hash(Point(1, 2, ("t",), "a")) == hash(Point(1, 2, ("t",), "b"))  # type: ignore[arg-type]
    assert Point(1, 2) != Point(2, 1)
    assert Point(1) != Child(name="a")
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=[])"
    assert repr(Child(name="a")) == "Child(name='a', size=1)"


def test_frozen_refuses_assignment_and_deletion() -> None:
    p = Point(1)
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="cannot delete field 'y'"):
        del p.y  # type: ignore[misc]


def test_kw_only_fields_are_inherited_in_order() -> None:
    c = Child(name="a", size=3)
    assert (c.name, c.size, Child.__match_args__) == ("a", 3, ())
    with pytest.raises(TypeError, match="positional"):
        Child("a")  # type: ignore[misc]


def test_mutable_record_is_unhashable_and_assignable() -> None:
    m = Mutable()
    m.items.append(1)
    m.items = [2]
    assert m == Mutable([2])
    with pytest.raises(TypeError, match="unhashable"):
        hash(m)


def test_replace_pickle_and_copy_keep_values() -> None:
    p = Point(1, 2, ["t"], "n")
    assert replace(p, y=5) == Point(1, 5, ["t"])
    assert replace(Child(name="a"), size=9) == Child(name="a", size=9)
    for clone in (pickle.loads(pickle.dumps(p)), copy.deepcopy(p), copy.copy(p)):
        assert (clone, clone.note) == (p, "n")


def test_bad_definitions_are_refused() -> None:
    with pytest.raises(ValueError, match=r"mutable default for field 'xs' of .*Bad"):

        @record
        class Bad:
            xs: list[int] = []  # noqa: RUF012

    with pytest.raises(ValueError, match="not both"):
        field(default=1, default_factory=int)  # type: ignore[call-overload]


@record(frozen=True, slots=True)
class Empty(Point):
    """A slotted frozen record adding no field: every field is its base's slot."""


@record(frozen=True, slots=True)
class Stated:  # its own __init__ is kept
    value: int

    def __init__(self, value: int) -> None:
        object.__setattr__(self, "value", value * 2)


def test_frozen_slots_init_stores_through_the_slots() -> None:
    # the generated __init__ stores each field through the class's own slot (fast);
    # every field still arrives, inherited ones too, and the record stays frozen
    child = Child(name="a", size=3)
    assert (child.name, child.size) == ("a", 3)
    assert "_s0" in Child.__init__.__globals__
    empty = Empty(1, 2, ["t"])
    assert (empty.x, empty.y, empty.tags) == (1, 2, ["t"])
    assert empty == Empty(1, 2, ["t"]) and empty != Point(1, 2, ["t"])
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'x'"):
        empty.x = 5  # type: ignore[misc]
    assert not hasattr(empty, "__dict__")
    assert Stated(4).value == 8
    assert pickle.loads(pickle.dumps(child)) == child
