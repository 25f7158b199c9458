"""ParallelRunConfig and ParallelRunStep reject bad values at construction (A.15)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from dataferry import (
    Dataset,
    Environment,
    OutputFileDatasetConfig,
    ParallelRunConfig,
    ParallelRunStep,
    PipelineParameter,
)
from dataferry.errors import ParallelRunConfigError, PipelineTypeError
from dataferry.pipeline.parallel_config import parse_mini_batch_size

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Datastore


def _config(**changes: Any) -> ParallelRunConfig:
    options: dict[str, Any] = {
        "environment": Environment("prs"),
        "entry_script": "score.py",
        "error_threshold": 10,
        "output_action": "append_row",
        "compute_target": "local",
        "node_count": 1,
    }
    options.update(changes)
    return ParallelRunConfig(**options)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(10, 10), ("10", 10), ("1KB", 1024), ("2mb", 2 * 1024**2), ("1Gb", 1024**3)],
)
def test_mini_batch_size_reads_counts_and_sizes(value: Any, expected: int) -> None:
    assert parse_mini_batch_size(value) == expected
    assert _config(mini_batch_size=value).mini_batch_size == expected


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"error_threshold": -2}, ParallelRunConfigError, "error_threshold must be -1"),
        ({"error_threshold": "5"}, PipelineTypeError, "error_threshold must be an int"),
        ({"output_action": "append"}, ParallelRunConfigError, "'append_row' or"),
        ({"node_count": 0}, ParallelRunConfigError, "node_count must be greater"),
        ({"process_count_per_node": 0}, ParallelRunConfigError, "greater than 0"),
        ({"mini_batch_size": "1TB"}, ParallelRunConfigError, "'1TB' is not a size"),
        ({"mini_batch_size": 0}, ParallelRunConfigError, "greater than 0, not 0"),
        ({"run_invocation_timeout": 0}, ParallelRunConfigError, "greater than 0"),
        ({"run_max_try": -1}, ParallelRunConfigError, "run_max_try must be greater"),
        ({"allowed_failed_count": -3}, ParallelRunConfigError, "must be -1 or more"),
        ({"allowed_failed_percent": 101}, ParallelRunConfigError, "between 0 and 100"),
        ({"append_row_file_name": "a/b.txt"}, ParallelRunConfigError, "without any"),
        ({"logging_level": "LOUD"}, ParallelRunConfigError, "WARNING, INFO, DEBUG"),
        ({"environment": "env"}, PipelineTypeError, "must be an Environment"),
        ({"entry_script": "  "}, ParallelRunConfigError, "must name a Python file"),
        (
            {"mini_batch_size": 5, "partition_keys": ["k"]},
            ParallelRunConfigError,
            "cannot both be given",
        ),
        ({"partition_keys": []}, ParallelRunConfigError, "empty list"),
        ({"partition_keys": "k"}, PipelineTypeError, "partition_keys must be a list"),
        ({"environment_variables": {"A": 1}}, PipelineTypeError, r"\['A'\] must be"),
    ],
)
def test_bad_config_values_are_typed_errors(
    changes: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        _config(**changes)


def test_parameters_are_checked_by_their_default() -> None:
    size = PipelineParameter("size", default_value="1MB")
    assert _config(mini_batch_size=size).mini_batch_size is size
    with pytest.raises(ParallelRunConfigError, match=r"node_count .* greater than 0"):
        _config(node_count=PipelineParameter("nodes", default_value=0))


@pytest.fixture
def files(blobstore: Datastore, store_root: Path) -> Any:
    (store_root / "docs").mkdir(parents=True)
    (store_root / "docs/a.txt").write_text("a")
    return Dataset.File.from_files((blobstore, "docs/*.txt")).as_named_input("docs")


@pytest.fixture
def rows(blobstore: Datastore, store_root: Path) -> Any:
    (store_root / "t").mkdir(parents=True)
    (store_root / "t/a.csv").write_text("id\n1\n")
    return Dataset.Tabular.from_delimited_files((blobstore, "t/*.csv"))


def test_step_arguments_follow_the_sdk_command(files: Any) -> None:
    out = OutputFileDatasetConfig(name="scores")
    step = ParallelRunStep(
        "score", _config(mini_batch_size=3), [files], out, arguments=["--model", "m"]
    )
    words = [a for a in step.ports.arguments if isinstance(a, str)]
    assert words[:4] == ["--scoring_module_name", "score.py", "--error_threshold", "10"]
    assert words[-3:] == ["--model", "m", "--input_fds_0"]
    assert [i.mode for i in step.ports.inputs] == ["mount"]  # converted from direct


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"arguments": ["model"]}, "Found invalid argument 'model'"),
        ({"arguments": ["--run_max_try", "2"]}, "'run_max_try' is a reserved"),
        ({"output": None}, "Please specify output parameter"),
        ({"inputs": []}, "inputs is empty"),
    ],
)
def test_bad_step_arguments_are_typed_errors(
    files: Any, kwargs: dict[str, Any], match: str
) -> None:
    given: dict[str, Any] = {"inputs": [files], "output": OutputFileDatasetConfig()}
    given.update(kwargs)
    with pytest.raises(ParallelRunConfigError, match=match):
        ParallelRunStep("score", _config(), **given)


def test_inputs_must_be_one_kind_and_rows_direct(files: Any, rows: Any) -> None:
    out = OutputFileDatasetConfig()
    with pytest.raises(ParallelRunConfigError, match="All inputs of step must be same"):
        ParallelRunStep("s", _config(), [files, rows.as_named_input("r")], out)
    with pytest.raises(ParallelRunConfigError, match="partition_keys needs tabular"):
        ParallelRunStep("s", _config(partition_keys=["k"]), [files], out)


def test_summary_only_needs_no_output(files: Any) -> None:
    step = ParallelRunStep("s", _config(output_action="SUMMARY_ONLY"), [files])
    assert step.parallel_run_config.output_action == "summary_only"
    assert step.ports.outputs == []
