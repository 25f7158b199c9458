"""The catalog's tables. Changes here need an Alembic revision in ``migrations/versions``.

The catalog is the only source of truth for "this output exists": bytes in storage with
no committed row here are treated as absent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value  # type: ignore[no-any-return]


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# key/value workspace settings: default datastore, concurrency cap, retention, ...
settings = Table(
    "settings",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", JSON, nullable=False),
)

datastores = Table(
    "datastores",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("options", JSON, nullable=False),
    Column("secret_keys", JSON, nullable=False),  # names only, never values
    Column("secret_env", JSON, nullable=False),  # option -> environment variable name
    Column("created_at", UtcDateTime(), nullable=False),
)

# a saved dataset definition; identical definitions share one row (same fingerprint)
datasets = Table(
    "datasets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(10), nullable=False),  # 'file' | 'tabular'
    Column("definition", JSON, nullable=False),
    Column("fingerprint", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("dataset_id", String(36), ForeignKey("datasets.id"), nullable=False),
    Column("description", Text),
    Column("tags", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    # the step run that produced it (register_on_complete), for lineage
    Column("producer_step_run_id", String(64)),
    Column("producer_output", String(255)),  # which of that step run's outputs
    Index("ix_dataset_versions_dataset_id", "dataset_id"),
)

experiments = Table(
    "experiments",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("experiment", String(255), ForeignKey("experiments.name"), nullable=False),
    Column("status", String(20), nullable=False),
    Column("description", Text),
    Column("tags", JSON, nullable=False),
    Column("parameters", JSON, nullable=False),
    Column(
        "options", JSON, nullable=False
    ),  # continue_on_step_failure, regenerate, ...
    Column("definition", JSON, nullable=False),  # the pipeline graph as submitted
    Column("created_at", UtcDateTime(), nullable=False),
    Column("started_at", UtcDateTime()),
    Column("ended_at", UtcDateTime()),
    # liveness of the driving process, so a run whose driver died can be resumed
    Column("heartbeat_at", UtcDateTime()),
    Column("driver_host", String(255)),
    Column("driver_pid", Integer),
    Column("error", Text),
    Index("ix_runs_experiment", "experiment"),
)

step_runs = Table(
    "step_runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("run_id", String(64), ForeignKey("runs.id"), nullable=False),
    Column("step_name", String(255), nullable=False),
    Column("node_id", String(64), nullable=False),
    Column("status", String(20), nullable=False),
    Column("fingerprint", String(64)),
    Column("reused_from", String(64)),  # the step run whose outputs this one reuses
    Column("explanation", Text),  # why it was reused or rerun
    Column("details", JSON, nullable=False),
    Column("exit_code", Integer),
    Column("log_dir", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("started_at", UtcDateTime()),
    Column("ended_at", UtcDateTime()),
    UniqueConstraint("run_id", "node_id"),
    Index("ix_step_runs_fingerprint", "fingerprint"),
)

# one row per committed output; present only once the bytes are whole at their place
outputs = Table(
    "outputs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("step_run_id", String(64), ForeignKey("step_runs.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("datastore", String(255), nullable=False),
    Column("path", Text, nullable=False),
    Column("mode", String(10), nullable=False),
    Column("size_bytes", BigInteger),
    Column("file_count", Integer),
    Column("committed_at", UtcDateTime(), nullable=False),
    Column("deleted_at", UtcDateTime()),
    # {path below the output: [size, mtime_ns, inode, etag]} when it was committed
    Column("signatures", JSON),
    # why the bytes no longer match what was committed; nothing serves them then
    Column("damage", Text),
    UniqueConstraint("step_run_id", "name"),
)

# a writer's claim on an output location; a second writer is refused while it exists
leases = Table(
    "leases",
    metadata,
    Column("datastore", String(255), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("step_run_id", String(64), nullable=False),
    Column("run_id", String(64), nullable=False),
    Column("acquired_at", UtcDateTime(), nullable=False),
)

# an output commit that may be under way: written as its step moves to Running,
# deleted in the transaction that ends the step; one left behind names a driver
# killed while the step ran or committed, which the first use of the catalog settles
# (``data.commit_settling``) once that writer is gone
pending_commits = Table(
    "pending_commits",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("datastore", String(255), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("step_run_id", String(64), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    # the writer's process start time (seconds since the epoch): a reused pid differs
    Column("pid_started", Float, nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    # every step that ran with outputs deletes its records by step run as it ends
    Index("ix_pending_commits_step_run_id", "step_run_id"),
)

lineage = Table(
    "lineage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("step_run_id", String(64), ForeignKey("step_runs.id"), nullable=False),
    Column("role", String(10), nullable=False),  # 'input' | 'output'
    Column("name", String(255), nullable=False),
    Column("dataset_id", String(36)),
    Column("datastore", String(255)),
    Column("path", Text),
    # an input's access mode and the value the step was given (recorded as it starts)
    Column("mode", String(10)),
    Column("value", Text),
    Index("ix_lineage_step_run_id", "step_run_id"),
)

# every change of a run's or step run's status, and what happened in between (reuse,
# preparation, commits, registrations), appended in the change's own transaction; a
# reader follows a run by asking for its events after the last id it saw
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("step_run_id", String(64)),
    Column("time", UtcDateTime(), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Index("ix_events_run_id_id", "run_id", "id"),
    sqlite_autoincrement=True,  # ids never reused, so "after id N" never misses one
)


class ExactJSON(TypeDecorator[Any]):
    """JSON kept as its text, so a value comes back with the type it was given.

    SQLite gives a column declared ``JSON`` numeric affinity: the text ``1.0`` of a
    bare float is stored as the integer 1, and ``run.log("x", 1.0)`` read back as 1.
    A ``TEXT`` column keeps the text as written.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str:
        return json.dumps(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else json.loads(value)


metrics = Table(
    "metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("kind", String(10), nullable=False),  # scalar | list | row | table | image
    Column("value", ExactJSON, nullable=False),
    Column("step", Integer),
    Column("description", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_metrics_run_id", "run_id"),
)

# what a run's code attached to it besides metrics (run.tag, run.add_properties,
# run.upload_file): tags change, properties are written once, files are kept under
# the run's folder at ``path`` (relative to the workspace)
run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text),  # None is kept, as in the SDK
)

run_properties = Table(
    "run_properties",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)

run_files = Table(
    "run_files",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("name", String(1024), primary_key=True),
    Column("path", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# file signature -> content hash, so an unchanged input is not hashed again
content_hashes = Table(
    "content_hashes",
    metadata,
    Column("datastore", String(255), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("inode", BigInteger, nullable=False),
    Column("etag", String(255), nullable=False),
    Column("hash", String(64), nullable=False),
)

# a compute target the workspace knows: where its steps run (``local`` now) and its size
compute_targets = Table(
    "compute_targets",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("kind", String(40), nullable=False),  # AmlCompute | local
    Column("runs_on", String(255), nullable=False),  # 'local'; a Ray address later
    Column("max_nodes", Integer, nullable=False),  # bounds the steps run at once
    Column("config", JSON, nullable=False),  # the provisioning settings, as given
    Column("state", String(20), nullable=False),  # Succeeded | Deleting
    Column("created_at", UtcDateTime(), nullable=False),
)

# registered environments: one row per (name, version); versions count from 1
environments = Table(
    "environments",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("definition", JSON, nullable=False),  # Environment.to_dict() without version
    Column("created_at", UtcDateTime(), nullable=False),
)

# Environment.label: a label names one version of an environment (labelling another
# version moves it)
environment_labels = Table(
    "environment_labels",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("label", String(255), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# registered models: one row per (name, version); versions count from 1. The files are
# in the workspace's model store under ``asset_path`` (``<content id>/<last segment>``)
models = Table(
    "models",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("asset_path", String(1024), nullable=False),
    Column("file_count", Integer, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("description", Text),
    Column("tags", JSON, nullable=False),
    Column("properties", JSON, nullable=False),
    Column("framework", String(255)),
    Column("framework_version", String(255)),
    Column("run_id", String(64)),  # the step run it was registered from
    Column("experiment_name", String(255)),
    Column("datasets", JSON, nullable=False),  # [[scenario, dataset id], ...]
    Column("extras", JSON, nullable=False),  # sample datasets, resource config, ...
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_models_run_id", "run_id"),
)

# published pipelines (Pipeline.publish): an immutable compiled plan plus its parameter
# defaults; only ``status`` ('Active'/'Disabled') ever changes
published_pipelines = Table(
    "published_pipelines",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("version", String(255)),
    Column("status", String(16), nullable=False),
    Column("continue_on_step_failure", String(8)),  # 'True'/'False' or NULL: unset
    Column("plan", JSON, nullable=False),
    Column("parameters", JSON, nullable=False),  # name -> serialised default
    Column("graph_description", Text),  # the pipeline's own description
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_published_pipelines_name", "name"),
)

# pipeline endpoints: a unique name over numbered versions ("0", "1", ...) of published
# pipelines, one of them the default
pipeline_endpoints = Table(
    "pipeline_endpoints",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", Text),
    Column("status", String(16), nullable=False),
    Column("default_version", String(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

pipeline_endpoint_versions = Table(
    "pipeline_endpoint_versions",
    metadata,
    Column(
        "endpoint_id", String(64), ForeignKey("pipeline_endpoints.id"), primary_key=True
    ),
    Column("version", String(32), primary_key=True),
    Column(
        "pipeline_id", String(64), ForeignKey("published_pipelines.id"), nullable=False
    ),
)

# pipeline schedules: a recurrence, or a datastore path polled for new or changed files
# ("seen": file -> signature at the last poll)
schedules = Table(
    "schedules",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("pipeline_id", String(64)),
    Column("pipeline_endpoint_id", String(64)),
    Column("experiment_name", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("kind", String(16), nullable=False),  # 'Recurrence' or 'DataStore'
    Column("recurrence", JSON),
    Column("anchor", UtcDateTime(), nullable=False),
    Column("datastore_name", String(255)),
    Column("path_on_datastore", Text),
    Column("polling_interval", Integer),
    Column("data_path_parameter_name", String(255)),
    Column("pipeline_parameters", JSON, nullable=False),
    Column("continue_on_step_failure", String(8)),
    Column("seen", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# one row per firing: the claim two servers race for, then the run it started
schedule_fires = Table(
    "schedule_fires",
    metadata,
    Column("schedule_id", String(64), ForeignKey("schedules.id"), primary_key=True),
    Column("due_key", String(512), primary_key=True),
    Column("run_id", String(255)),
    Column("fired_at", UtcDateTime(), nullable=False),
)

# a submit's hold on a shared snapshot (dataferry/snapshots/<hash>/) from before it
# checks the datastore until its run is recorded, so gc does not collect it between
snapshot_holds = Table(
    "snapshot_holds",
    metadata,
    Column("hash", String(128), primary_key=True),
    Column("token", String(64), primary_key=True),
    Column("taken_at", UtcDateTime(), nullable=False),
    # the submitting process (migration 0033): a hold of one gone from this host no
    # longer holds; NULL in a hold an older dataferry took (the expiry alone decides)
    Column("host", String(255), nullable=True),
    Column("pid", Integer(), nullable=True),
    Column("started_at", Float(), nullable=True),
)
