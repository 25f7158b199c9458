"""Every ``dataferry`` command: where it lives and its short help, imported by nothing else.

The groups are ``LazyGroup`` s over these tables, so a command's module is imported
only when that command runs, while ``--help`` lists them all. ``help`` is the first
sentence of the command's help text (all ``--help`` shows); a new command is added
here, and ``tests/cli/test_lazy_commands.py`` fails if an entry's help or target
drifts from the command itself.
"""

from __future__ import annotations

from dataferry.cli.lazy_group import LazyEntry

_CLI = "dataferry.cli."

ROOT: dict[str, LazyEntry] = {
    "init": LazyEntry(
        _CLI + "workspace_cmds:init",
        "Create a workspace in PATH (default: the current folder).",
    ),
    "datastore": LazyEntry(
        _CLI + "datastore_cmds:datastore", "List, inspect and register datastores."
    ),
    "dataset": LazyEntry(
        _CLI + "dataset_cmds:dataset",
        "List, inspect, preview and download registered datasets.",
    ),
    "run": LazyEntry(
        _CLI + "run_cmds:run",
        "Run the pipeline file FILE, then show a live status table until its runs end.",
    ),
    "graph": LazyEntry(
        _CLI + "graph_cmds:pipeline_graph",
        "Draw the pipeline of FILE without running it: the pipeline FILE submits "
        "first (that submit is stopped: nothing is recorded or run), else its "
        "module-level `pipeline`.",
    ),
    "runs": LazyEntry(
        _CLI + "runs_cmds:runs",
        "List, inspect, read the logs of, cancel, resume and rerun pipeline runs.",
    ),
    "gc": LazyEntry(
        _CLI + "lifecycle_cmds:gc",
        "Delete intermediate outputs of old runs (never registered data, never what "
        "a kept run reuses, never anything of a running run); in a shared workspace "
        "also the shared snapshots no run uses and the shared logs of deleted runs.",
    ),
    "agent": LazyEntry(
        _CLI + "agent_cmds:agent",
        "The local agent: a resident process that records submitted runs and starts "
        "their drivers, so that a submitting script imports no catalog code.",
    ),
    "compute": LazyEntry(
        _CLI + "compute_cmds:compute",
        "List, inspect, create and delete compute targets (where steps run).",
    ),
    "model": LazyEntry(
        _CLI + "model_cmds:model",
        "List, inspect and download registered models (Model.register, "
        "run.register_model).",
    ),
    "catalog": LazyEntry(
        _CLI + "catalog_cmds:catalog",
        "The workspace's catalog database: its schema revision, upgrade, and moving "
        "it to another database (export to a file, import into an empty catalog).",
    ),
    "serve": LazyEntry(
        _CLI + "serve_cmds:serve",
        "Serve the workspace: runs and events as JSON, published pipelines' REST "
        "endpoints, and due schedules fired in the background.",
    ),
    "pipeline": LazyEntry(
        _CLI + "pipeline_cmds:pipeline",
        "Published pipelines and pipeline endpoints: list, show, enable, disable.",
    ),
    "schedule": LazyEntry(
        _CLI + "schedule_cmds:schedule",
        "Pipeline schedules: list, show, enable, disable (`dataferry serve` runs them).",
    ),
    "completion": LazyEntry(
        _CLI + "completion:completion",
        "Print the completion script for SHELL; it completes commands, options, run "
        "ids and experiment, step, dataset and datastore names.",
    ),
}

# subcommands written outside their group's module (the group's own are loaded with it)
RUNS: dict[str, LazyEntry] = {
    "resume": LazyEntry(
        _CLI + "lifecycle_cmds:resume",
        "Continue run RUN, whose driver died: finished steps are kept, interrupted "
        "ones restart.",
    ),
    "rerun": LazyEntry(
        _CLI + "lifecycle_cmds:rerun",
        "Start a new run of RUN's pipeline that reruns STEP and its downstream steps.",
    ),
    "events": LazyEntry(
        _CLI + "events_cmds:events",
        "Print a run's events: status changes of the run and its steps, reuse "
        "decisions, preparation stages, committed outputs and registered datasets.",
    ),
    "graph": LazyEntry(
        _CLI + "graph_cmds:run_graph",
        "Draw run RUN: its steps in run order with status, duration and reuse, and "
        "the data between them (outputs, and the datasets and paths read from "
        "outside).",
    ),
}

DATASET: dict[str, LazyEntry] = {
    "register": LazyEntry(
        _CLI + "dataset_make:register",
        "Register dataset NAME over PATH on a datastore: a path, folder or glob "
        "(`sales/*.csv`, `images/**`).",
    ),
    "upload": LazyEntry(
        _CLI + "dataset_make:upload",
        "Upload SRC (one folder, or files) to a datastore, then register dataset "
        "NAME over the uploaded folder.",
    ),
}

DATASTORE: dict[str, LazyEntry] = {
    "retention": LazyEntry(
        _CLI + "lifecycle_cmds:retention",
        "Keep intermediate outputs on datastore NAME for DURATION (7d, 12h); 'none' "
        "keeps them until deleted by hand.",
    ),
}
