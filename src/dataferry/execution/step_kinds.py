"""Step kinds: what a plan node runs, and the command line that runs it.

A node carries one kind object; the driver asks it for the argv and knows no kind by
name. A new kind (a ``ScriptRunConfig`` run, a parallel step) is a class here and an
entry in ``STEP_KINDS``; the driver does not change.
"""

from __future__ import annotations

import shlex
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from dataferry._record import record
from dataferry.errors import PlanFormatError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path


class StepKind(Protocol):
    """What a node runs; ``name`` is the JSON's ``kind``."""

    name: ClassVar[str]

    def argv(
        self, arguments: list[str], *, work_dir: Path, interpreter: str
    ) -> list[str]:
        """The command line, from the step's resolved arguments."""
        ...

    def to_json(self) -> dict[str, Any]:
        """The node fields that say the kind (``kind`` and the kind's own fields)."""
        ...


@record(frozen=True, slots=True)
class ScriptStepKind:
    """A Python script of the step's snapshot, run by the step's interpreter."""

    name: ClassVar[str] = "script"
    script: str

    def argv(
        self, arguments: list[str], *, work_dir: Path, interpreter: str
    ) -> list[str]:
        """``interpreter <work_dir>/<script> arguments...``."""
        return [interpreter, str(work_dir / self.script), *arguments]

    def to_json(self) -> dict[str, Any]:
        """``kind``, ``script`` and ``shell`` (False: every node has both fields, as
        fingerprints have always hashed both)."""
        return {"kind": self.name, "script": self.script, "shell": False}

    @classmethod
    def from_json(cls, node: Mapping[str, Any]) -> ScriptStepKind:
        """The kind of a node stored by ``to_json``."""
        return cls(node["script"])


@record(frozen=True, slots=True)
class CommandStepKind:
    """A command: an argv list, or (``shell``) one string run by bash.

    A list whose first item is a command line (``['python train.py --epochs 30']``)
    is run by bash too, its items joined by spaces, as Azure ML runs a list command.
    """

    name: ClassVar[str] = "command"
    shell: bool

    def argv(
        self, arguments: list[str], *, work_dir: Path, interpreter: str
    ) -> list[str]:
        """The arguments as the command; ``python`` (leading, or anywhere in a shell
        command) is the step's interpreter."""
        if self.shell:
            return _bash(arguments[0], interpreter)
        if arguments and any(c.isspace() for c in arguments[0]):
            return _bash(" ".join(arguments), interpreter)
        if arguments and arguments[0] in ("python", "python3"):
            return [interpreter, *arguments[1:]]
        return list(arguments)

    def to_json(self) -> dict[str, Any]:
        """``kind``, ``script`` (None) and ``shell``."""
        return {"kind": self.name, "script": None, "shell": self.shell}

    @classmethod
    def from_json(cls, node: Mapping[str, Any]) -> CommandStepKind:
        """The kind of a node stored by ``to_json``."""
        return cls(bool(node["shell"]))


@record(frozen=True, slots=True)
class ParallelStepKind:
    """A ParallelRunStep: dataferry's parallel driver runs ``script`` (the entry
    script) over mini-batches, in the step's process and the workers it starts."""

    name: ClassVar[str] = "parallel"
    script: str
    # the driver's module; its arguments are the step's (reserved flags, user
    # arguments, ``--input_*`` inputs), as the SDK's generated command has them
    DRIVER_MODULE: ClassVar[str] = "dataferry.execution.parallel"

    def argv(
        self, arguments: list[str], *, work_dir: Path, interpreter: str
    ) -> list[str]:
        """``interpreter -m dataferry.execution.parallel arguments...``."""
        return [interpreter, "-m", self.DRIVER_MODULE, *arguments]

    def to_json(self) -> dict[str, Any]:
        """``kind``, ``script`` (the entry script) and ``shell`` (False)."""
        return {"kind": self.name, "script": self.script, "shell": False}

    @classmethod
    def from_json(cls, node: Mapping[str, Any]) -> ParallelStepKind:
        """The kind of a node stored by ``to_json``."""
        return cls(node["script"])


def _bash(line: str, interpreter: str) -> list[str]:
    """bash running ``line``, where ``python``/``python3`` name the step's interpreter
    (functions, so a user's PATH is left as it is)."""
    python = shlex.quote(interpreter)
    prelude = f'python() {{ {python} "$@"; }}; python3() {{ {python} "$@"; }}; '
    return ["/bin/bash", "-c", prelude + line]


STEP_KINDS: Mapping[str, Callable[[Mapping[str, Any]], StepKind]] = MappingProxyType(
    {
        ScriptStepKind.name: ScriptStepKind.from_json,
        CommandStepKind.name: CommandStepKind.from_json,
        ParallelStepKind.name: ParallelStepKind.from_json,
    }
)


def kind_from_json(node: Mapping[str, Any]) -> StepKind:
    """The kind of a stored plan node.

    Raises:
        PlanFormatError: a kind no entry of ``STEP_KINDS`` reads.
    """
    reader = STEP_KINDS.get(node["kind"])
    if reader is None:
        raise PlanFormatError(
            f"step '{node['name']}' is of kind {node['kind']!r}, which this dataferry "
            f"cannot run (known kinds: {', '.join(sorted(STEP_KINDS))}); upgrade dataferry"
        )
    return reader(node)
