"""Shell completion: ``dataferry completion bash|zsh|fish`` and the callbacks that
complete run ids, experiment, step, dataset and datastore names from the workspace.

Completion runs in a fresh ``dataferry`` process with the words typed so far; the root
group's callback has not run then, so each callback opens the workspace from the
``-w`` typed (or the current folder) itself. A callback never fails: no workspace, or
any error reading it, completes nothing.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import click
from click.shell_completion import CompletionItem, get_completion_class

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from dataferry.data import Workspace

SHELLS = ("bash", "zsh", "fish")
_COMPLETE_VAR = "_DATAFERRY_COMPLETE"
_MAX_RUNS = 50  # run ids offered: the newest first


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL; it completes commands, options, run ids
    and experiment, step, dataset and datastore names. Add it to your shell:

    \b
      bash: eval "$(dataferry completion bash)"     (in ~/.bashrc)
      zsh:  eval "$(dataferry completion zsh)"      (in ~/.zshrc)
      fish: dataferry completion fish > ~/.config/fish/completions/dataferry.fish
    """
    root = click.get_current_context().find_root()
    cls = get_completion_class(shell)
    assert cls is not None  # SHELLS holds only click's built-in shells
    script = cls(root.command, {}, "dataferry", _COMPLETE_VAR).source()
    click.echo(script)


@contextlib.contextmanager
def _workspace(ctx: click.Context) -> Iterator[Workspace | None]:
    """The workspace named by the ``-w`` typed so far, else found from the cwd."""
    from dataferry.data import Workspace

    try:
        ws = Workspace.from_config(ctx.find_root().params.get("workspace_path"))
    except Exception:  # completing must never print a traceback into the prompt
        yield None
        return
    try:
        yield ws
    finally:
        ws.close()


def _items(
    ctx: click.Context, incomplete: str, read: Callable[[Workspace], Iterable[str]]
) -> list[CompletionItem]:
    with _workspace(ctx) as ws:
        if ws is None:
            return []
        try:
            names = list(read(ws))
        except Exception:  # a catalog being migrated, a name gone: offer nothing
            return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def complete_runs(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Run ids starting with what is typed (of the ``-e`` experiment), and ``latest``."""
    from dataferry.execution.views import run_ids

    experiment = ctx.params.get("experiment")

    def read(ws: Workspace) -> list[str]:
        found = run_ids(ws, incomplete, experiment=experiment, limit=_MAX_RUNS)
        return ["latest", *found]

    return _items(ctx, incomplete, read)


def complete_experiments(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The names of the experiments that have runs."""
    return _items(ctx, incomplete, lambda ws: ws.catalog.experiment_names())


class RunCommand(click.Command):
    """A command taking RUN whose options complete from that run (``--from STEP``).

    While completing, click parses the words typed so far leniently, and an option
    still waiting for its value (``--from`` at the end) stops that parse before RUN is
    set; so the words are kept here, for ``complete_steps`` to find RUN in.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if ctx.resilient_parsing:
            ctx.meta[_WORDS] = list(args)
        return super().parse_args(ctx, args)


_WORDS = "dataferry.completion.words"


def _typed_run(ctx: click.Context) -> str | None:
    """RUN as parsed, else the first word typed that is neither an option nor an
    option's value."""
    if ctx.params.get("run_id"):
        return str(ctx.params["run_id"])
    takes_value = {
        name
        for p in ctx.command.params
        if isinstance(p, click.Option) and not p.is_flag
        for name in p.opts
    }
    words = iter([str(w) for w in ctx.meta.get(_WORDS, ())])
    for word in words:
        if word in takes_value:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def complete_steps(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The step names of the run typed before (``runs rerun RUN --from <TAB>``)."""
    from dataferry.execution.views import resolve_run, run_detail

    ref = _typed_run(ctx)
    if not ref:
        return []

    def read(ws: Workspace) -> list[str]:
        run_id = resolve_run(ws, ref, experiment=ctx.params.get("experiment"))
        return list(dict.fromkeys(s.name for s in run_detail(ws, run_id).steps))

    return _items(ctx, incomplete, read)


def complete_datasets(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The names of the registered datasets."""
    return _items(
        ctx, incomplete, lambda ws: [v.name for v in ws.catalog.latest_versions()]
    )


def complete_datastores(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The names of the registered datastores."""
    return _items(
        ctx, incomplete, lambda ws: [s.name for s in ws.catalog.list_datastores()]
    )
