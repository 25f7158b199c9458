"""Output scripts can parse and commands that fit habits: ``--json``, run references
(``latest``, prefixes, ``-e``), completion, CLI-worded errors and the exit-code table.

Runs are recorded straight into the real catalog (no driver), so these stay quick.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click
import pytest
from click.shell_completion import ShellComplete

from dataferry import Workspace
from dataferry.catalog.run_store import RunStore
from dataferry.cli import app
from dataferry.cli.completion import (
    complete_datasets,
    complete_datastores,
    complete_experiments,
    complete_runs,
    complete_steps,
)
from dataferry.errors import (
    EXIT_CODES,
    AmbiguousRunError,
    DataferryError,
    ExperimentNotFoundError,
    RunNotFoundError,
    WorkspaceExistsError,
)
from dataferry.execution.views import resolve_run, run_detail

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from click.testing import CliRunner, Result

    from dataferry import TabularDataset

    Invoke = Callable[..., Result]

# a diamond: prep -> (left, right) -> join; node ids sort unlike the run order
NODES = [
    {"node_id": "d_join", "name": "join", "upstream": ["b_left", "a_right"]},
    {"node_id": "b_left", "name": "left", "upstream": ["z_prep"]},
    {"node_id": "a_right", "name": "right", "upstream": ["z_prep"]},
    {"node_id": "z_prep", "name": "prep", "upstream": []},
]


def _record(ws: Workspace, run_id: str, experiment: str) -> None:
    RunStore(ws.catalog).create_run(
        run_id,
        experiment,
        {"nodes": NODES},
        parameters={"n": 3},
        options={},
        tags={"team": "ml"},
        description="recorded by a test",
        steps=[(f"{n['node_id']}_{run_id}", n["node_id"], n["name"]) for n in NODES],
    )


@pytest.fixture
def recorded(workspace: Workspace) -> list[str]:
    """Four runs, oldest first: two of 'train' and two of 'score'."""
    ids = ["train_100_aaaa", "train_200_bbbb", "score_300_cccc", "score_301_dddd"]
    for run_id in ids:
        _record(workspace, run_id, run_id.split("_")[0])
    return ids


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


class TestRunReferences:
    def test_latest_is_the_newest_run(self, workspace: Workspace, recorded) -> None:
        assert resolve_run(workspace, "latest") == "score_301_dddd"

    def test_latest_of_an_experiment(self, workspace: Workspace, recorded) -> None:
        assert resolve_run(workspace, "latest", experiment="train") == "train_200_bbbb"

    @pytest.mark.parametrize(
        ("ref", "expected"),
        [
            ("train_1", "train_100_aaaa"),
            ("score_301", "score_301_dddd"),
            ("score_300_cccc", "score_300_cccc"),
        ],
    )
    def test_a_unique_prefix_or_whole_id(
        self, workspace: Workspace, recorded, ref: str, expected: str
    ) -> None:
        assert resolve_run(workspace, ref) == expected

    def test_an_ambiguous_prefix_lists_the_candidates(
        self, workspace: Workspace, recorded
    ) -> None:
        with pytest.raises(
            AmbiguousRunError,
            match=r"^'score_30' starts 2 run ids: score_301_dddd, score_300_cccc; "
            r"type more of the id\.$",
        ):
            resolve_run(workspace, "score_30")

    def test_an_experiment_narrows_a_prefix(
        self, workspace: Workspace, recorded
    ) -> None:
        with pytest.raises(
            RunNotFoundError,
            match=r"^no run with id 'train' in this workspace of experiment 'score', ",
        ):
            resolve_run(workspace, "train", experiment="score")

    def test_like_wildcards_are_literal(self, workspace: Workspace, recorded) -> None:
        with pytest.raises(RunNotFoundError, match=r"no run with id '%' "):
            resolve_run(workspace, "%")
        with pytest.raises(RunNotFoundError, match=r"no run with id 'score_3_' "):
            resolve_run(workspace, "score_3_")

    def test_an_unknown_experiment_suggests_one(
        self, workspace: Workspace, recorded
    ) -> None:
        with pytest.raises(
            ExperimentNotFoundError,
            match=r"^no runs of experiment 'trian' in this workspace; its experiments "
            r"are score, train\. Did you mean 'train'\?$",
        ):
            resolve_run(workspace, "latest", experiment="trian")

    def test_latest_without_runs(self, workspace: Workspace) -> None:
        with pytest.raises(RunNotFoundError, match="no runs in this workspace yet"):
            resolve_run(workspace, "latest")

    def test_the_cli_takes_latest_and_prefixes(self, run: Invoke, recorded) -> None:
        assert _json(run("runs", "show", "latest", "--json"))["id"] == "score_301_dddd"
        shown = _json(run("runs", "show", "latest", "-e", "train", "--json"))
        assert shown["id"] == "train_200_bbbb"
        assert _json(run("runs", "show", "train_1", "--json"))["id"] == (
            "train_100_aaaa"
        )

    def test_the_cli_exits_2_on_an_ambiguous_prefix(
        self, run: Invoke, recorded
    ) -> None:
        for command in (["show"], ["logs"], ["cancel"], ["events"], ["resume"]):
            result = run("runs", *command, "train")
            assert result.exit_code == 2, command
            assert result.stderr.startswith("Error: 'train' starts 2 run ids: ")


class TestJson:
    def test_runs_list(self, run: Invoke, recorded) -> None:
        listed = _json(run("runs", "list", "--json"))
        assert [r["id"] for r in listed] == list(reversed(recorded))
        first = listed[0]
        assert list(first) == [
            "id",
            "experiment",
            "status",
            "type",
            "created",
            "started",
            "ended",
            "duration_s",
            "error",
            "step_statuses",
        ]
        assert (first["experiment"], first["status"], first["type"]) == (
            "score",
            "NotStarted",
            "azureml.PipelineRun",
        )
        assert first["created"].endswith("+00:00")
        assert first["started"] is None
        assert first["step_statuses"] == ["NotStarted"] * 4

    def test_runs_list_of_an_experiment(self, run: Invoke, recorded) -> None:
        listed = _json(run("runs", "list", "-e", "train", "--json"))
        assert [r["id"] for r in listed] == ["train_200_bbbb", "train_100_aaaa"]

    def test_runs_list_empty_is_an_empty_list(self, run: Invoke) -> None:
        assert _json(run("runs", "list", "--json")) == []

    def test_runs_show_lists_steps_in_run_order(self, run: Invoke, recorded) -> None:
        shown = _json(run("runs", "show", "train_100_aaaa", "--json"))
        assert [s["name"] for s in shown["steps"]] == ["prep", "left", "right", "join"]
        assert shown["parameters"] == {"n": 3}
        assert shown["tags"] == {"team": "ml"}
        assert shown["description"] == "recorded by a test"
        assert (shown["outputs"], shown["metrics"]) == ([], [])
        assert list(shown["steps"][0]) == [
            "id",
            "name",
            "status",
            "stage",
            "started",
            "ended",
            "duration_s",
            "exit_code",
            "reused_from",
            "reuse_explanation",
            "compute_target",
            "error",
            "log_dir",
            "registered",
        ]
        assert shown["steps"][0]["id"] == "z_prep_train_100_aaaa"

    def test_dataset_commands(self, run: Invoke, sales: TabularDataset) -> None:
        assert _json(run("dataset", "list", "--json")) == [
            {
                "name": "sales",
                "latest_version": 2,
                "kind": "Tabular",
                "description": "daily sales",
            }
        ]
        shown = _json(run("dataset", "show", "sales", "--version", "1", "--json"))
        assert (shown["name"], shown["version"], shown["kind"]) == (
            "sales",
            1,
            "Tabular",
        )
        assert (shown["tags"], shown["produced_by_step_run"]) == ({}, None)
        assert "definition" in shown
        listed = _json(run("dataset", "versions", "sales", "--json"))
        assert [(v["version"], v["description"], v["tags"]) for v in listed] == [
            (1, "first day", {}),
            (2, "daily sales", {"team": "ml"}),
        ]

    def test_datastore_commands(self, run: Invoke, workspace: Workspace) -> None:
        listed = _json(run("datastore", "list", "--json"))
        default = next(d for d in listed if d["default"])
        assert list(default) == ["name", "type", "location", "default"]
        assert default["name"] == workspace.get_default_datastore().name
        shown = _json(run("datastore", "show", default["name"], "--json"))
        assert list(shown) == ["registration", "location", "entry_count", "entries"]
        assert shown["entries"] == []

    def test_gc_dry_run(self, run: Invoke) -> None:
        assert _json(run("gc", "--dry-run", "--json")) == {
            "deleted": False,
            "outputs": [],
            "staging": [],
            "shared": [],
            "total_bytes": 0,
            "shared_bytes": 0,
        }


class TestTables:
    def test_off_a_terminal_cells_are_cut_not_folded(
        self, cli: CliRunner, project: Path, recorded
    ) -> None:
        result = cli.invoke(
            app,
            ["-w", str(project), "runs", "show", "train_100_aaaa"],
            env={"COLUMNS": "60"},
        )
        assert result.exit_code == 0, result.output
        steps = result.stdout.split("Steps")[1].splitlines()
        rows = [line for line in steps if line.startswith("│")]
        # one line per step (none folded onto a second line), ids whole
        assert len(rows) == 4
        assert "z_prep_train_100_aaaa" in rows[0]
        assert all(len(line) <= 60 for line in steps)


def _complete(
    callback: Callable[..., list[Any]], project: Path, incomplete: str, **params: Any
) -> list[str]:
    root = click.Context(app, info_name="dataferry")
    root.params = {"workspace_path": project}
    ctx = click.Context(click.Command("x"), parent=root)
    ctx.params = params
    param = click.Argument(["x"])
    return [item.value for item in callback(ctx, param, incomplete)]


class TestCompletion:
    @pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
    def test_the_script_is_printed(self, run: Invoke, shell: str) -> None:
        result = run("completion", shell)
        assert result.exit_code == 0
        assert "_DATAFERRY_COMPLETE" in result.stdout
        assert f"{shell}_complete" in result.stdout

    def test_an_unknown_shell_is_a_usage_error(self, run: Invoke) -> None:
        result = run("completion", "tcsh")
        assert result.exit_code == 2
        assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in result.stderr

    def test_run_ids(self, project: Path, recorded) -> None:
        assert _complete(complete_runs, project, "score") == [
            "score_301_dddd",
            "score_300_cccc",
        ]
        assert _complete(complete_runs, project, "l") == ["latest"]
        assert _complete(complete_runs, project, "", experiment="train") == [
            "latest",
            "train_200_bbbb",
            "train_100_aaaa",
        ]

    def test_experiments_and_steps(self, project: Path, recorded) -> None:
        assert _complete(complete_experiments, project, "") == ["score", "train"]
        assert _complete(complete_steps, project, "", run_id="latest") == [
            "prep",
            "left",
            "right",
            "join",
        ]
        assert _complete(complete_steps, project, "l", run_id="train_1") == ["left"]
        assert _complete(complete_steps, project, "", run_id="nope") == []

    def test_datasets_and_datastores(
        self, project: Path, workspace: Workspace, sales: TabularDataset
    ) -> None:
        assert _complete(complete_datasets, project, "s") == ["sales"]
        default = workspace.get_default_datastore().name
        assert default in _complete(complete_datastores, project, "")

    def test_no_workspace_completes_nothing(self, tmp_path: Path) -> None:
        assert _complete(complete_runs, tmp_path, "") == []

    def test_through_clicks_machinery(self, project: Path, recorded) -> None:
        comp = ShellComplete(app, {}, "dataferry", "_DATAFERRY_COMPLETE")
        args = ["-w", str(project), "runs", "rerun", "train_100_aaaa", "--from"]
        found = [c.value for c in comp.get_completions(args, "")]
        assert found == ["prep", "left", "right", "join"]
        args = ["-w", str(project), "runs", "logs", "-e", "train", "latest", "--step"]
        assert [c.value for c in comp.get_completions(args, "j")] == ["join"]
        args = ["-w", str(project), "runs", "show", "-e"]
        assert [c.value for c in comp.get_completions(args, "s")] == ["score"]
        args = ["-w", str(project), "runs", "show"]
        assert [c.value for c in comp.get_completions(args, "train_2")] == [
            "train_200_bbbb"
        ]


class TestErrorsAndExitCodes:
    def test_help_prints_the_table(self, cli: CliRunner) -> None:
        result = cli.invoke(app, ["--help"])
        assert result.exit_code == 0
        table = result.stdout.split("Exit codes:")[1]
        for code in EXIT_CODES:
            assert f"\n  {code} " in table

    def test_every_error_exits_with_a_code_of_the_table(self) -> None:
        def subclasses(cls: type) -> list[type]:
            return [cls, *(s for c in cls.__subclasses__() for s in subclasses(c))]

        for cls in subclasses(DataferryError):
            assert cls.exit_code in EXIT_CODES, cls
            assert cls.exit_code != 0, cls

    def test_the_cli_speaks_cli_python_speaks_python(
        self, cli: CliRunner, project: Path
    ) -> None:
        with pytest.raises(WorkspaceExistsError, match=r"pass exist_ok=True to open"):
            Workspace.create("again", project)
        result = cli.invoke(app, ["init", str(project)])
        assert result.exit_code == 2
        assert "pass --exist-ok to open it" in result.stderr
        assert "exist_ok=True" not in result.stderr

    def test_no_workspace_names_the_w_option(
        self, cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        result = cli.invoke(app, ["runs", "list"])
        assert result.exit_code == 3
        assert "pass -w PATH (or set DATAFERRY_WORKSPACE)" in result.stderr
        assert "path=" not in result.stderr

    def test_a_step_typo_exits_3_with_a_suggestion(self, run: Invoke, recorded) -> None:
        result = run("runs", "logs", "train_100_aaaa", "--step", "lfet")
        assert result.exit_code == 3
        assert result.stderr == (
            "Error: run 'train_100_aaaa' has no step 'lfet'; its steps are join, "
            "left, prep, right. Did you mean 'left'?\n"
        )

    def test_an_unknown_experiment_is_not_exit_0(self, run: Invoke, recorded) -> None:
        for args in (
            ["runs", "list", "-e", "nope"],
            ["runs", "show", "latest", "-e", "nope"],
        ):
            result = run(*args)
            assert result.exit_code == 3, args
            assert result.stderr.startswith("Error: no runs of experiment 'nope'")


def test_steps_in_run_order(workspace: Workspace, recorded) -> None:
    detail = run_detail(workspace, "train_100_aaaa")
    assert [s.name for s in detail.steps] == ["prep", "left", "right", "join"]
