"""Value classes like ``@dataclass``, without its import and class-building cost.

``dataclasses`` imports ``inspect`` (and with it ``ast``, ``dis``, ``tokenize``) and
compiles five or six functions per class with ``exec``: about 20 ms to import and about
1 ms a class, which a submitting script paid for the ~40 value classes it imports. A
:func:`record` class gets the same generated ``__init__`` (compiled once, so building a
10,000-step plan is as fast as before), and shared ``__eq__``, ``__hash__``,
``__repr__``, frozen ``__setattr__`` and ``__slots__``, with the semantics of the
dataclass options it accepts. ``typing.dataclass_transform`` makes mypy check a record
exactly as it checks a dataclass (fields, ``__init__`` signature, frozen assignments).
"""

from __future__ import annotations

from operator import attrgetter
from types import MemberDescriptorType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, dataclass_transform, overload

if TYPE_CHECKING:
    from collections.abc import Callable

_T = TypeVar("_T")
_C = TypeVar("_C", bound=type)
_MISSING: Any = object()
_FACTORY: Any = (
    object()
)  # the default of an __init__ argument whose default is a factory


class FrozenInstanceError(AttributeError):
    """Raised on assigning to, or deleting, an attribute of a frozen record."""


class Field:
    """One field of a record: its name, default and options (made by :func:`field`)."""

    __slots__ = ("compare", "default", "default_factory", "kw_only", "name", "repr")

    def __init__(
        self, default: Any, default_factory: Any, compare: bool, repr: bool
    ) -> None:
        self.name = ""
        self.default = default
        self.default_factory = default_factory
        self.compare = compare
        self.repr = repr
        self.kw_only = False


@overload
def field(*, default: _T, compare: bool = True, repr: bool = True) -> _T: ...
@overload
def field(
    *, default_factory: Callable[[], _T], compare: bool = True, repr: bool = True
) -> _T: ...
def field(
    *,
    default: Any = _MISSING,
    default_factory: Any = _MISSING,
    compare: bool = True,
    repr: bool = True,
) -> Any:
    """A field's default (a value, or a factory called per instance) and options.

    ``compare=False`` leaves the field out of ``==`` and ``hash``; ``repr=False`` out of
    ``repr``. Raises ValueError if both a default and a factory are given.
    """
    if default is not _MISSING and default_factory is not _MISSING:
        raise ValueError("field() takes a default or a default_factory, not both")
    return Field(default, default_factory, compare, repr)


@overload
def record(cls: _C, /) -> _C: ...
@overload
def record(
    *, frozen: bool = False, slots: bool = False, kw_only: bool = False
) -> Callable[[_C], _C]: ...
@dataclass_transform(field_specifiers=(field,))
def record(
    cls: Any = None,
    /,
    *,
    frozen: bool = False,
    slots: bool = False,
    kw_only: bool = False,
) -> Any:
    """Make ``cls`` a value class, as ``@dataclass(frozen=, slots=, kw_only=)`` would.

    Inputs: the class (its annotated attributes are the fields, in order, after those
    of record base classes; ``ClassVar`` ones are not fields) and the options.
    Output: the class (a new one with ``slots=True``). Methods the class defines itself
    (``__eq__``, ``__repr__``, ``__hash__``) are kept. Raises ValueError for a mutable
    default (a list, dict or set: use ``field(default_factory=...)``).
    """

    def wrap(cls: _C) -> _C:
        built: _C = _build(cls, frozen, slots, kw_only)
        return built

    return wrap if cls is None else wrap(cls)


def replace(obj: _T, /, **changes: Any) -> _T:
    """A copy of record ``obj`` with the fields named in ``changes`` set to new values."""
    values = {f.name: getattr(obj, f.name) for f in type(obj)._record_fields_}  # type: ignore[attr-defined]
    values.update(changes)
    return type(obj)(**values)


def _build(cls: Any, frozen: bool, slots: bool, kw_only: bool) -> Any:
    fields = _collect_fields(cls, kw_only)
    own_init = "__init__" in cls.__dict__
    cls._record_fields_ = tuple(fields)
    _set(cls, "__init__", _make_init(cls, fields, frozen))
    _set(cls, "__repr__", _make_repr(tuple(f.name for f in fields if f.repr)))
    compared = tuple(f.name for f in fields if f.compare)
    get = attrgetter(*compared) if compared else (lambda _self: ())
    _set(cls, "__eq__", _make_eq(get))
    _set_hash(cls, get, frozen)
    _set(cls, "__match_args__", tuple(f.name for f in fields if not f.kw_only))
    if frozen:
        cls.__setattr__ = _frozen_setattr
        cls.__delattr__ = _frozen_delattr
    if not slots:
        return cls
    new = _with_slots(cls, fields, frozen)
    if frozen and not own_init:
        # again, storing through the new class's slots: a third of the time of a
        # frozen field's store (object.__setattr__ looks the slot up every time),
        # and a plan builds ~40 fields a step
        new.__init__ = _make_init(new, fields, frozen)
    return new


def _collect_fields(cls: Any, kw_only: bool) -> list[Field]:
    found: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        for f in base.__dict__.get("_record_fields_", ()):
            found[f.name] = f
    # the class's own annotations; inspect.get_annotations would import inspect, the cost avoided
    own = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
    for name, annotation in own.items():
        if _is_classvar(annotation):
            continue
        value = cls.__dict__.get(name, _MISSING)
        f = value if isinstance(value, Field) else Field(value, _MISSING, True, True)
        if isinstance(f.default, (list, dict, set)):
            raise ValueError(
                f"mutable default for field {name!r} of {cls.__qualname__}: "
                "use field(default_factory=...)"
            )
        f.name, f.kw_only = name, kw_only
        found[name] = f
        if isinstance(
            value, Field
        ):  # the class attribute is the default, as in dataclasses
            if f.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, f.default)
    return list(found.values())


def _is_classvar(annotation: Any) -> bool:
    if isinstance(
        annotation, str
    ):  # postponed annotations (from __future__ import annotations)
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    return getattr(annotation, "__origin__", annotation) is ClassVar


def _make_init(cls: Any, fields: list[Field], frozen: bool) -> Any:
    # compiled once per class, so constructing an instance costs what a dataclass's does
    env: dict[str, Any] = {"_setattr": object.__setattr__, "_FACTORY": _FACTORY}
    params: list[str] = []
    kw_params: list[str] = []
    body: list[str] = []
    for i, f in enumerate(fields):
        param = f.name
        if f.default is not _MISSING:
            env[f"_d{i}"] = f.default
            param += f"=_d{i}"
        elif f.default_factory is not _MISSING:
            env[f"_f{i}"] = f.default_factory
            param += "=_FACTORY"
            body.append(f" if {f.name} is _FACTORY: {f.name} = _f{i}()")
        (kw_params if f.kw_only else params).append(param)
        slot = getattr(cls, f.name, None) if "__slots__" in cls.__dict__ else None
        if frozen and isinstance(slot, MemberDescriptorType):
            env[f"_s{i}"] = slot.__set__
            store = f"_s{i}(self, {f.name})"
        elif frozen:
            store = f"_setattr(self, {f.name!r}, {f.name})"
        else:
            store = f"self.{f.name} = {f.name}"
        body.append(f" {store}")
    if hasattr(cls, "__post_init__"):
        body.append(" self.__post_init__()")
    signature = ", ".join(["self", *params, *(["*", *kw_params] if kw_params else [])])
    source = f"def __init__({signature}):\n" + ("\n".join(body) or " pass")
    exec(source, env)  # noqa: S102 - our own generated source, as dataclasses does
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _make_repr(names: tuple[str, ...]) -> Any:
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__qualname__}({shown})"

    return __repr__


def _make_eq(get: Callable[[Any], Any]) -> Any:
    def __eq__(self: Any, other: object) -> Any:
        if other.__class__ is self.__class__:
            return get(self) == get(other)
        return NotImplemented

    return __eq__


def _set_hash(cls: Any, get: Callable[[Any], Any], frozen: bool) -> None:
    own = cls.__dict__.get("__hash__", _MISSING)
    # a class that defines __eq__ but not __hash__ gets __hash__ = None from Python itself
    explicit = own is not _MISSING and not (own is None and "__eq__" in cls.__dict__)
    if explicit:
        return
    if frozen:
        cls.__hash__ = lambda self: hash(get(self))
    else:
        cls.__hash__ = None  # mutable and compared by value: unhashable, as a dataclass


def _set(cls: Any, name: str, value: Any) -> None:
    if name not in cls.__dict__:
        setattr(cls, name, value)


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _with_slots(cls: Any, fields: list[Field], frozen: bool) -> Any:
    inherited = {
        s for base in cls.__mro__[1:-1] for s in base.__dict__.get("__slots__", ())
    }
    names = dict(cls.__dict__)
    names["__slots__"] = tuple(f.name for f in fields if f.name not in inherited)
    for f in fields:
        names.pop(
            f.name, None
        )  # a default left as class attribute would clash with the slot
    names.pop("__dict__", None)
    names.pop("__weakref__", None)
    if frozen:  # pickle and copy restore a frozen slots instance around its __setattr__
        names.setdefault("__getstate__", _getstate)
        names.setdefault("__setstate__", _setstate)
    new = type(cls)(cls.__name__, cls.__bases__, names)
    new.__qualname__ = cls.__qualname__
    return new


def _getstate(self: Any) -> list[Any]:
    return [getattr(self, f.name) for f in self._record_fields_]


def _setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(self._record_fields_, state, strict=True):
        object.__setattr__(self, f.name, value)
