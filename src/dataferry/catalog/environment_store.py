"""Registered environments: versions of a name, each an ``Environment.to_dict()``.

A version is assigned inside one write transaction holding the lock of the name's
versions, so concurrent writers get consecutive numbers. Registering the
definition the latest version already has returns that version (as the Azure ML service
does), so re-running a notebook does not pile up identical versions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from dataferry.catalog.locks import lock, upsert
from dataferry.catalog.schema import environment_labels, environments
from dataferry.catalog.versioned import newest_versions
from dataferry.errors import EnvironmentNotFoundError, did_you_mean

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dataferry.catalog.sql_catalog import SqlCatalog


def register_environment(
    catalog: SqlCatalog, name: str, definition: Mapping[str, Any], *, now: Any
) -> int:
    """Keep ``definition`` as the next version of ``name``; returns the version.

    Runs holding the lock of ``name``'s versions: concurrent registrations of one
    name get consecutive versions (and one definition registered twice, one).
    """
    with catalog.write() as conn:
        lock(conn, "environment-versions", name)
        latest = conn.execute(
            select(environments.c.version, environments.c.definition)
            .where(environments.c.name == name)
            .order_by(environments.c.version.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.definition == dict(definition):
            return int(latest.version)
        version = 1 if latest is None else int(latest.version) + 1
        conn.execute(
            environments.insert().values(
                name=name, version=version, definition=dict(definition), created_at=now
            )
        )
        return version


def get_environment(
    catalog: SqlCatalog, name: str, version: int | None
) -> dict[str, Any]:
    """One version's definition (with ``version`` as a str); None means the latest.

    Raises:
        EnvironmentNotFoundError: the name or the version is not registered (the
            message starts with the SDK's text, names the versions there are, or a
            close name).
    """
    with catalog.read() as conn:
        query = select(environments).where(environments.c.name == name)
        if version is None:
            query = query.order_by(environments.c.version.desc()).limit(1)
        else:
            query = query.where(environments.c.version == version)
        row = conn.execute(query).first()
        if row is not None:
            return {**row.definition, "version": str(row.version)}
        latest = conn.execute(
            select(func.max(environments.c.version)).where(environments.c.name == name)
        ).scalar()
        names = conn.execute(select(environments.c.name).distinct()).scalars().all()
    shown = "latest" if version is None else version
    message = (
        "Error retrieving the environment definition. Code: 404\n: environment "
        f"'{name}' (version: {shown}) is not registered in this workspace."
    )
    if latest is not None:
        message += f" Its versions are 1 to {latest}; pass version='{latest}'."
    else:
        message += did_you_mean(name, names) or " Register it with env.register(ws)."
    raise EnvironmentNotFoundError(message)


def list_environments(catalog: SqlCatalog) -> dict[str, dict[str, Any]]:
    """The latest version of every registered name, by name (sorted)."""
    with catalog.read() as conn:
        rows = conn.execute(newest_versions(environments)).all()
    return {r.name: {**r.definition, "version": str(r.version)} for r in rows}


def label_environment(
    catalog: SqlCatalog, name: str, version: int, labels: Sequence[str], *, now: Any
) -> None:
    """Point each of ``labels`` at ``version`` of ``name`` (a label on another version
    moves), in one transaction.

    Raises:
        EnvironmentNotFoundError: that version is not registered.
    """
    get_environment(catalog, name, version)  # the SDK's not-found text
    rows = [
        {"name": name, "label": lab, "version": version, "created_at": now}
        for lab in labels
    ]
    with catalog.write() as conn:  # an upsert: a label moves atomically
        upsert(conn, environment_labels, rows, ["name", "label"])


def labelled_version(catalog: SqlCatalog, name: str, label: str) -> int:
    """The version of ``name`` that ``label`` names.

    Raises:
        EnvironmentNotFoundError: no version of ``name`` has that label (the message
            names the labels it has).
    """
    with catalog.read() as conn:
        rows = conn.execute(
            select(environment_labels.c.label, environment_labels.c.version).where(
                environment_labels.c.name == name
            )
        ).all()
    versions = {r.label: int(r.version) for r in rows}
    if label in versions:
        return versions[label]
    there = (
        f" Its labels are {sorted(versions)}."
        if versions
        else " It has none: add one with Environment.label(ws, name, version, [label])."
    )
    raise EnvironmentNotFoundError(
        "Error retrieving the environment definition. Code: 404\n: environment "
        f"'{name}' has no label '{label}' in this workspace.{there}"
    )
