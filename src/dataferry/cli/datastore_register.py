"""``dataferry datastore register-<kind>``: one command per registry entry.

The commands, their flags and the ``Datastore.register_*`` function each calls all come
from the datastore-kind registry (``storage.kinds``): a kind added there gets its
command here. Credentials are never values on the command line, only the names of the
environment variables holding them (``--account-key-env VAR``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from dataferry.cli import render
from dataferry.cli.context import current_workspace
from dataferry.storage.kinds import KINDS

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from dataferry.storage.kinds import DatastoreKind


def _params(entry: DatastoreKind) -> list[click.Parameter]:
    params: list[click.Parameter] = [click.Argument(["name"])]
    for flag in entry.cli_flags:
        if flag.is_flag:
            params.append(click.Option([flag.flag], is_flag=True, help=flag.help))
        else:
            params.append(
                click.Option(
                    [flag.flag],
                    required=flag.required,
                    metavar="VAR" if flag.env else None,
                    help=flag.help,
                )
            )
    params.append(
        click.Option(
            ["--overwrite"], is_flag=True, help="Replace a registration of that name."
        )
    )
    params.append(
        click.Option(
            ["--set-default"], is_flag=True, help="Make it the default datastore."
        )
    )
    return params


def register_command(
    entry: DatastoreKind, location_of: Callable[[Mapping[str, Any]], str]
) -> click.Command:
    """The ``register-<kind>`` command of one registry entry.

    ``location_of`` renders where the new datastore points, for the closing message.
    """

    def callback(name: str, overwrite: bool, set_default: bool, **given: Any) -> None:
        from dataferry.data import Datastore

        for flag in entry.cli_flags:
            var = given.get(flag.option + "_env" if flag.env else flag.option)
            if flag.env and var and var not in os.environ:
                render.print_warning(
                    f"environment variable {var} is not set now; it must be "
                    "when the datastore is used."
                )
        kwargs = {key: value for key, value in given.items() if value}
        register = getattr(Datastore, entry.register)
        store = register(current_workspace(), name, overwrite=overwrite, **kwargs)
        if set_default:
            store.set_as_default()
        suffix = " (default)" if set_default else ""
        render.say(
            f"Registered datastore '{store.name}' ({store.datastore_type}) "
            f"at {location_of(store._describe())}{suffix}",
            style="green",
        )

    return click.Command(
        entry.cli_command,
        params=_params(entry),
        callback=callback,
        help=f"Register datastore NAME as {entry.sdk_class} "
        f"(Datastore.{entry.register}). Unless --skip-validation, the store is "
        "checked (container, credentials) within seconds before anything is saved.",
    )


def register_commands(
    location_of: Callable[[Mapping[str, Any]], str],
) -> list[click.Command]:
    """One ``register-<kind>`` command for every registry entry that has one."""
    return [
        register_command(entry, location_of)
        for entry in KINDS.values()
        if entry.cli_command
    ]
