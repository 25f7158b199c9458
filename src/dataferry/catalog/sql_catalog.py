"""The catalog over SQLAlchemy: SQLite (embedded default, WAL) or PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import uuid
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    Engine,
    RowMapping,
    create_engine,
    event,
    func,
    make_url,
    select,
)

from dataferry.catalog import environment_store, migrate
from dataferry.catalog.db_guard import guard_public, guarded
from dataferry.catalog.locks import insert_new, lock, upsert
from dataferry.catalog.records import DatasetRecord, DatasetVersionRecord
from dataferry.catalog.schema import (
    dataset_versions,
    datasets,
    datastores,
    experiments,
    settings,
)
from dataferry.catalog.versioned import newest_versions
from dataferry.errors import (
    DatasetExistsError,
    DatasetNotFoundError,
    DatastoreExistsError,
    DatastoreNotFoundError,
    did_you_mean,
)
from dataferry.storage.spec import DatastoreSpec

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Mapping, Sequence

log = logging.getLogger(__name__)

# every catalog this process opened: a fork must know what connections it inherits
_OPEN: weakref.WeakSet[SqlCatalog] = weakref.WeakSet()
# The engines of the databases this process opened last, by URL. SQLAlchemy keeps the
# compiled form of each statement per engine, and compiling one costs a millisecond or
# two: a driver that opens its workspace again, or is forked from a process that had it
# open, finds its statements compiled (a fully reused run paid 20 ms of compiling).
# Bounded: a process that opens many workspaces (a test session) keeps only the last few.
_ENGINES: OrderedDict[str, tuple[Engine, tuple[int, int] | None]] = OrderedDict()
_ENGINES_KEPT = 8
_ENGINES_LOCK = threading.Lock()
# seconds a connection to a database server may take to open (libpq's connect_timeout)
CONNECT_TIMEOUT_S = 10


def now() -> datetime:
    """The current time, timezone-aware (UTC); every timestamp in the catalog is this."""
    return datetime.now(UTC)


def fingerprint_of(value: Any) -> str:
    """sha256 of the canonical JSON of ``value``."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def prepare_fork() -> list[str]:
    """Close every open catalog's idle connections before ``fork``; return the SQLite
    database files among them (the caller checks that none is still open)."""
    return [f for f in (_release_for_fork(e) for e in _engines()) if f]


def after_fork_in_child() -> None:
    """In the forked child, forget every inherited catalog connection (not closing it):
    the parent's (a PostgreSQL session, say) are left alone; new ones are opened, and
    the compiled statements are kept."""
    for engine in _engines():
        engine.dispose(close=False)


def _engines() -> list[Engine]:
    """Every engine this process may hold connections of (each once)."""
    with _ENGINES_LOCK:
        found = {id(e): e for e, _ in _ENGINES.values()}
    found.update((id(c.engine), c.engine) for c in list(_OPEN))
    return list(found.values())


def _release_for_fork(engine: Engine) -> str | None:
    """Close ``engine``'s idle connections; its SQLite database file, else None.

    SQLite must not carry a connection across ``fork``: its in-process lock state
    would be shared with the child's own connections.
    """
    engine.dispose()
    database = engine.url.database
    return database if engine.dialect.name == "sqlite" and database else None


def _engine_for(url: str) -> Engine:
    """The engine of ``url``: the one this process made last for it, or a new one.

    A kept engine's idle connections are closed first if its SQLite file is missing or
    not the one they opened (a workspace deleted and created anew at a path); closing
    them otherwise would cost a checkpoint of the log when the last one closes.
    """
    with _ENGINES_LOCK:
        kept = _ENGINES.get(url)
        found = _file_identity(url)
        if kept is None:
            kept = _ENGINES[url] = (make_engine(url), found)
            while len(_ENGINES) > _ENGINES_KEPT:  # the catalogs using it keep it alive
                _ENGINES.popitem(last=False)
        elif found is None or kept[1] != found:  # not the file they opened, if any
            kept[0].dispose()  # the compiled statements stay
            kept = _ENGINES[url] = (kept[0], found)
        _ENGINES.move_to_end(url)
        return kept[0]


def _file_identity(url: str) -> tuple[int, int] | None:
    """(device, inode) of a SQLite database file; None for another database, or a
    file not made yet."""
    database = make_url(url).database if url.startswith("sqlite") else None
    if not database or database == ":memory:":
        return None
    try:
        found = os.stat(database)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def make_engine(url: str) -> Engine:
    """A new engine for ``url``, set up as every catalog's is (SQLite: WAL, foreign
    keys, a busy timeout, writers' ``BEGIN IMMEDIATE``; a server: a bounded connect
    timeout); nothing is connected yet. Catalogs share theirs through ``_engine_for``.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives kill -9
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Writers take the write lock up front: a deferred transaction that reads and
            # then writes fails at once with SQLITE_BUSY when another writer got there first.
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return create_engine(url, pool_pre_ping=True, connect_args=server_connect_args(url))


def server_connect_args(url: str) -> dict[str, Any]:
    """Driver arguments for a database server at ``url``: a bounded connect timeout
    (``CONNECT_TIMEOUT_S``, unless the URL sets ``connect_timeout`` itself), so an
    unreachable server fails in seconds rather than after the system's TCP timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" or "connect_timeout" in parsed.query:
        return {}
    return {"connect_timeout": CONNECT_TIMEOUT_S}


@guard_public
class SqlCatalog:
    """Metadata of one workspace: datastores, datasets and versions, runs and outputs.

    Every multi-row change runs in one transaction. Methods return frozen records.
    Every public method raises a ``CatalogError`` (``CatalogBusyError``,
    ``CatalogUnavailableError``) naming it when the database fails it, after
    retrying the transient failures.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine_for(url)
        self._kept_datastores: dict[str, DatastoreSpec] | None = None
        _OPEN.add(self)
        try:
            self._migrate()
        except BaseException:
            self.engine.dispose()  # a refused catalog keeps no connection open
            raise

    @guarded("open the catalog")
    def _migrate(self) -> None:
        if migrate.is_current_sqlite(self.url):
            return  # nothing to migrate: no write lock taken
        if not self.url.startswith("sqlite"):
            with self.read() as conn:
                if migrate.current_revision(conn) == migrate.HEAD_REVISION:
                    return  # the same without the lock, on any other database
        with self.write() as conn:
            # one process migrates; another opening it meanwhile waits here, then
            # finds it at head
            lock(conn, "migrations", "catalog")
            migrate.upgrade(conn)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction (SQLite: ``BEGIN IMMEDIATE``)."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    # -- settings ---------------------------------------------------------------------

    def get_setting(self, key: str, default: Any = None) -> Any:
        """A workspace setting, or ``default``."""
        with self.read() as conn:
            row = conn.execute(
                select(settings.c.value).where(settings.c.key == key)
            ).first()
        return default if row is None else row[0]

    def set_setting(self, key: str, value: Any) -> None:
        """Create or replace a workspace setting."""
        with self.write() as conn:
            upsert(conn, settings, [{"key": key, "value": value}], ["key"])

    # -- experiments ------------------------------------------------------------------

    def experiment_names(self) -> list[str]:
        """The name of every experiment that has had a run, sorted."""
        with self.read() as conn:
            return list(
                conn.execute(
                    select(experiments.c.name).order_by(experiments.c.name)
                ).scalars()
            )

    # -- datastores -------------------------------------------------------------------

    def keep_datastores(self) -> None:
        """From now on, answer ``get_datastore`` for a name from this object's first
        read of it: a run's driver resolves each datastore once, not once per input
        and output of every step. Registrations changed through this object still
        show; ones changed by other processes meanwhile do not."""
        if self._kept_datastores is None:
            self._kept_datastores = {}

    def add_datastore(self, spec: DatastoreSpec, *, overwrite: bool = False) -> None:
        """Register a datastore.

        Raises:
            DatastoreExistsError: the name is taken and ``overwrite`` is False.
        """
        row = {
            "name": spec.name,
            "kind": spec.kind,
            "options": dict(spec.options),
            "secret_keys": list(spec.secret_keys),
            "secret_env": dict(spec.secret_env),
            "created_at": now(),
        }
        with self.write() as conn:
            lock(conn, "datastores", spec.name)  # two registrations: one is refused
            exists = conn.execute(
                select(datastores.c.name).where(datastores.c.name == spec.name)
            ).first()
            if exists and not overwrite:
                raise DatastoreExistsError(
                    f"a datastore named '{spec.name}' is already registered; pass "
                    "overwrite=True to replace it."
                )
            conn.execute(datastores.delete().where(datastores.c.name == spec.name))
            conn.execute(datastores.insert().values(**row))
        self._forget_datastore(spec.name)

    def get_datastore(self, name: str) -> DatastoreSpec:
        """The registration of one datastore (names are case-insensitive).

        Raises:
            DatastoreNotFoundError: no datastore has that name.
        """
        kept = self._kept_datastores
        if kept is not None and name.lower() in kept:
            return kept[name.lower()]
        with self.read() as conn:
            row = conn.execute(
                select(datastores).where(datastores.c.name == name.lower())
            ).first()
            if row is None:
                names = conn.execute(select(datastores.c.name)).scalars().all()
                raise DatastoreNotFoundError.named(name, names)
        spec = _spec(row._mapping)
        if kept is not None:
            kept[name.lower()] = spec
        return spec

    def list_datastores(self) -> list[DatastoreSpec]:
        """Every registered datastore, by name."""
        with self.read() as conn:
            rows = conn.execute(select(datastores).order_by(datastores.c.name)).all()
        return [_spec(r._mapping) for r in rows]

    def remove_datastore(self, name: str) -> None:
        """Forget a datastore registration (its bytes are untouched)."""
        self.get_datastore(name)
        with self.write() as conn:
            conn.execute(datastores.delete().where(datastores.c.name == name.lower()))
        self._forget_datastore(name)

    def _forget_datastore(self, name: str) -> None:
        if self._kept_datastores is not None:
            self._kept_datastores.pop(name.lower(), None)

    # -- datasets ---------------------------------------------------------------------

    def save_dataset(self, kind: str, definition: Mapping[str, Any]) -> DatasetRecord:
        """Save a definition and return its record; an identical one returns the same id."""
        # a definition saved before is found without taking the write lock
        existing = self._dataset_by_fingerprint(
            fingerprint_of({"kind": kind, "definition": definition})
        )
        if existing is not None:
            return existing
        with self.write() as conn:
            return save_dataset_in(conn, kind, definition)

    def _dataset_by_fingerprint(self, fingerprint: str) -> DatasetRecord | None:
        with self.read() as conn:
            row = conn.execute(
                select(datasets).where(datasets.c.fingerprint == fingerprint)
            ).first()
        return None if row is None else _dataset(row._mapping)

    def get_dataset(self, dataset_id: str) -> DatasetRecord:
        """A saved definition by id.

        Raises:
            DatasetNotFoundError: no dataset has that id.
        """
        with self.read() as conn:
            row = conn.execute(
                select(datasets).where(datasets.c.id == dataset_id)
            ).first()
        if row is None:
            raise DatasetNotFoundError(
                f'Cannot find dataset with id "{dataset_id}" in the workspace.'
            )
        return _dataset(row._mapping)

    def register_version(
        self,
        name: str,
        dataset_id: str,
        *,
        description: str | None,
        tags: Mapping[str, str] | None,
        create_new_version: bool,
        producer_step_run_id: str | None = None,
    ) -> DatasetVersionRecord:
        """Register ``dataset_id`` as the next version of ``name``.

        The version is assigned inside one write transaction holding the lock of
        ``name``'s versions: concurrent registrations get consecutive numbers.

        Raises:
            DatasetExistsError: the name is taken and ``create_new_version`` is False.
        """
        with self.write() as conn:
            return register_version_in(
                conn,
                name,
                dataset_id,
                description=description,
                tags=tags,
                create_new_version=create_new_version,
                producer_step_run_id=producer_step_run_id,
            )

    def get_version(
        self, name: str, version: int | None = None
    ) -> DatasetVersionRecord:
        """One version of a named dataset; ``None`` means the latest.

        Raises:
            DatasetNotFoundError: the name or the version is not registered.
        """
        with self.read() as conn:
            query = select(dataset_versions).where(dataset_versions.c.name == name)
            if version is None:
                query = query.order_by(dataset_versions.c.version.desc()).limit(1)
            else:
                query = query.where(dataset_versions.c.version == version)
            row = conn.execute(query).first()
            if row is not None:
                return _version(row._mapping)
            latest = conn.execute(
                select(func.max(dataset_versions.c.version)).where(
                    dataset_versions.c.name == name
                )
            ).scalar()
            names = (
                conn.execute(select(dataset_versions.c.name).distinct()).scalars().all()
            )
        shown = "latest" if version is None else version
        message = f'Cannot find dataset registered with name "{name}" (version: {shown}) in the workspace.'
        if latest is None:
            raise DatasetNotFoundError(message + did_you_mean(name, names))
        raise DatasetNotFoundError(
            f"{message} The latest version is {latest}; pass version={latest} or "
            "version='latest'.",
            cli_message=f"{message} The latest version is {latest}; pass "
            f"--version {latest} or --version latest.",
        )

    def list_versions(self, name: str) -> list[DatasetVersionRecord]:
        """Every version of one name, oldest first."""
        with self.read() as conn:
            rows = conn.execute(
                select(dataset_versions)
                .where(dataset_versions.c.name == name)
                .order_by(dataset_versions.c.version)
            ).all()
        return [_version(r._mapping) for r in rows]

    def latest_versions(self) -> list[DatasetVersionRecord]:
        """The latest version of every registered name, by name."""
        with self.read() as conn:
            rows = conn.execute(newest_versions(dataset_versions)).all()
        return [_version(r._mapping) for r in rows]

    def versions_of_dataset(self, dataset_id: str) -> list[DatasetVersionRecord]:
        """The registrations that point at one saved definition."""
        with self.read() as conn:
            rows = conn.execute(
                select(dataset_versions)
                .where(dataset_versions.c.dataset_id == dataset_id)
                .order_by(dataset_versions.c.name, dataset_versions.c.version)
            ).all()
        return [_version(r._mapping) for r in rows]

    def versions_by_producer(self, step_run_id: str) -> list[DatasetVersionRecord]:
        """The dataset versions a step run registered (``register_on_complete``)."""
        with self.read() as conn:
            rows = conn.execute(
                select(dataset_versions).where(
                    dataset_versions.c.producer_step_run_id == step_run_id
                )
            ).all()
        return [_version(r._mapping) for r in rows]

    def versions_by_producers(
        self, step_run_ids: Collection[str]
    ) -> list[DatasetVersionRecord]:
        """The dataset versions the given step runs registered, in registration order."""
        with self.read() as conn:
            rows = conn.execute(
                select(dataset_versions)
                .where(dataset_versions.c.producer_step_run_id.in_(list(step_run_ids)))
                .order_by(dataset_versions.c.created_at, dataset_versions.c.name)
            ).all()
        return [_version(r._mapping) for r in rows]

    # -- environments (the work is in environment_store) -------------------------------

    def register_environment(self, name: str, definition: Mapping[str, Any]) -> int:
        """Keep an environment definition as the next version of ``name``; returns the
        version (the latest one's, if its definition is the same).
        """
        return environment_store.register_environment(self, name, definition, now=now())

    def get_environment(self, name: str, version: int | None) -> dict[str, Any]:
        """A registered environment definition; ``None`` means the latest version.

        Raises:
            EnvironmentNotFoundError: the name or the version is not registered.
        """
        return environment_store.get_environment(self, name, version)

    def label_environment(self, name: str, version: int, labels: Sequence[str]) -> None:
        """Point each label at that version of ``name`` (moving it from another).

        Raises:
            EnvironmentNotFoundError: the version is not registered.
        """
        environment_store.label_environment(self, name, version, labels, now=now())

    def labelled_environment_version(self, name: str, label: str) -> int:
        """The version of ``name`` that ``label`` names.

        Raises:
            EnvironmentNotFoundError: no version of ``name`` has that label.
        """
        return environment_store.labelled_version(self, name, label)

    def list_environments(self) -> dict[str, dict[str, Any]]:
        """The latest definition of every registered environment, by name."""
        return environment_store.list_environments(self)

    def all_datasets(self) -> list[DatasetRecord]:
        """Every saved definition (to find which storage paths datasets point at)."""
        with self.read() as conn:
            rows = conn.execute(select(datasets)).all()
        return [_dataset(r._mapping) for r in rows]


def _spec(row: RowMapping) -> DatastoreSpec:
    return DatastoreSpec(
        name=row["name"],
        kind=row["kind"],
        options=row["options"],
        secret_keys=tuple(row["secret_keys"]),
        secret_env=row["secret_env"],
    )


def _dataset(row: RowMapping) -> DatasetRecord:
    return DatasetRecord(
        row["id"], row["kind"], row["definition"], row["fingerprint"], row["created_at"]
    )


def _version(row: RowMapping) -> DatasetVersionRecord:
    return DatasetVersionRecord(
        name=row["name"],
        version=row["version"],
        dataset_id=row["dataset_id"],
        description=row["description"],
        tags=row["tags"] or {},
        created_at=row["created_at"],
        producer_step_run_id=row["producer_step_run_id"],
        producer_output=row["producer_output"],
    )


def save_dataset_in(
    conn: Connection, kind: str, definition: Mapping[str, Any]
) -> DatasetRecord:
    """Inside a write transaction: the saved definition identical to this one, or a new
    one inserted (one atomic insert: a concurrent save of the same one is found)."""
    fingerprint = fingerprint_of({"kind": kind, "definition": definition})
    row = {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "definition": dict(definition),
        "fingerprint": fingerprint,
        "created_at": now(),
    }
    insert_new(conn, datasets, row, ["fingerprint"])
    saved = conn.execute(
        select(datasets).where(datasets.c.fingerprint == fingerprint)
    ).one()
    return _dataset(saved._mapping)


def register_version_in(
    conn: Connection,
    name: str,
    dataset_id: str,
    *,
    description: str | None,
    tags: Mapping[str, str] | None,
    create_new_version: bool,
    producer_step_run_id: str | None = None,
    producer_output: str | None = None,
) -> DatasetVersionRecord:
    """Inside a write transaction: register ``dataset_id`` as the next version of
    ``name``, holding the lock of ``name``'s versions until the transaction ends.

    Raises:
        DatasetExistsError: the name is taken and ``create_new_version`` is False.
    """
    lock(conn, "dataset-versions", name)
    latest = conn.execute(
        select(func.max(dataset_versions.c.version)).where(
            dataset_versions.c.name == name
        )
    ).scalar()
    if latest is not None and not create_new_version:
        raise DatasetExistsError(
            f'There is already a dataset registered under name "{name}". '
            "Specify create_new_version=True to register the dataset as a "
            "new version. Use update, add_tags, or remove_tags to change "
            "only the description or tags.",
            cli_message=f"a dataset named '{name}' is already registered (latest "
            f"version {latest}); pass --new-version to register version {latest + 1}.",
        )
    record = DatasetVersionRecord(
        name=name,
        version=(latest or 0) + 1,
        dataset_id=dataset_id,
        description=description,
        tags=dict(tags or {}),
        created_at=now(),
        producer_step_run_id=producer_step_run_id,
        producer_output=producer_output,
    )
    conn.execute(
        dataset_versions.insert().values(
            name=name,
            version=record.version,
            dataset_id=dataset_id,
            description=description,
            tags=dict(record.tags),
            created_at=record.created_at,
            producer_step_run_id=producer_step_run_id,
            producer_output=producer_output,
        )
    )
    return record
