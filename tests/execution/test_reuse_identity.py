"""Reuse identity: generated port names never defeat reuse, and explanations name the change.

An unnamed ``OutputFileDatasetConfig()``, ``.as_input()``, ``ds.as_mount()``, DataPath or
DataReference gets a random name each time the pipeline is built. The same pipeline built
again from fresh objects must reuse every step; a step that reruns must still find the
outputs of a reused step under their new names. A rerun says what really changed: the
path an input now points at, a port renamed, another mode.

The fast tests compile the plan and fingerprint it (no step process); the others run real
pipelines, each step in its own source folder.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import run_pipeline, step, write_script

from dataferry import (
    CommandStep,
    DataPath,
    DataPathComputeBinding,
    Dataset,
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PipelineParameter,
    PythonScriptStep,
    Workspace,
)
from dataferry.catalog.run_store import RunStore
from dataferry.execution.plan import PlanCompiler
from dataferry.execution.reuse import ReuseAdvisor

if TYPE_CHECKING:
    from collections.abc import Callable

    from dataferry import PipelineRun

# each test builds or runs a pipeline at least twice: seconds each
pytestmark = pytest.mark.slow

# Reads its input (a folder, a file, or a dataset id in direct mode) and writes, into
# its output folder, a CSV row saying where it read from and a digest of what it read.
STEP = """
import hashlib, os, sys
src, dst = sys.argv[1], sys.argv[2]
digest = hashlib.sha256()
if os.path.isdir(src):
    for folder, dirs, names in os.walk(src):
        dirs.sort()
        for name in sorted(names):
            with open(os.path.join(folder, name), "rb") as fh:
                digest.update(fh.read())
elif os.path.isfile(src):
    with open(src, "rb") as fh:
        digest.update(fh.read())
else:
    digest.update(src.encode())
os.makedirs(dst, exist_ok=True)
with open(os.path.join(dst, "rows.csv"), "w") as fh:
    fh.write(f"read_from,digest\\n{os.path.realpath(src)},{digest.hexdigest()}\\n")
# version 1
"""
NO_EARLIER = "run: first run of this step, nothing to reuse"


@pytest.fixture
def raw(store_root: Path) -> Path:
    """``raw/`` on the default datastore: three small files."""
    folder = store_root / "raw"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / f"{name}.txt").write_text(f"content of {name}\n")
    return folder


@pytest.fixture
def code(tmp_path: Path) -> Path:
    """One source folder per step: ``code/<step>/step.py``."""
    root = tmp_path / "code"
    for name in ("prep", "train", "report"):
        write_script(root / name, "step.py", STEP)
    return root


def make(code: Path, name: str, *arguments: Any, **ports: Any) -> PythonScriptStep:
    """Step ``name`` running ``code/<name>/step.py`` with ``arguments``."""
    return PythonScriptStep(
        "step.py",
        name=name,
        source_directory=str(code / name),
        arguments=list(arguments),
        **ports,
    )


def raw_input(ws: Workspace) -> Any:
    """The first step's input, under a name the user gave."""
    store = ws.get_default_datastore()
    return Dataset.File.from_files(DataPath(store, "raw")).as_named_input("raw")


# -- how one step hands its output to the next (every link built from fresh objects) --


def link_as_input(ws: Workspace, code: Path) -> Pipeline:
    clean, model, summary = (OutputFileDatasetConfig() for _ in range(3))
    make(code, "prep", raw_input(ws).as_mount(), clean)
    make(code, "train", clean.as_input(), model)
    return Pipeline(ws, steps=[make(code, "report", model.as_input(), summary)])


def link_as_download(ws: Workspace, code: Path) -> Pipeline:
    clean, model, summary = (OutputFileDatasetConfig() for _ in range(3))
    make(code, "prep", raw_input(ws).as_download(), clean)
    make(code, "train", clean.as_input().as_download(), model)
    last = make(code, "report", model.as_input().as_download(), summary)
    return Pipeline(ws, steps=[last])


def link_upload(ws: Workspace, code: Path) -> Pipeline:
    clean, model, summary = (OutputFileDatasetConfig().as_upload() for _ in range(3))
    make(code, "prep", raw_input(ws).as_mount(), clean)
    make(code, "train", clean.as_input(), model)
    return Pipeline(ws, steps=[make(code, "report", model.as_input(), summary)])


def link_listed_as_input(ws: Workspace, code: Path) -> Pipeline:
    """The output object itself in the next step's inputs (read under its own name)."""
    clean, model, summary = (OutputFileDatasetConfig() for _ in range(3))
    make(code, "prep", raw_input(ws).as_mount(), clean)
    make(code, "train", clean, model, inputs=[clean])
    return Pipeline(ws, steps=[make(code, "report", model, summary, inputs=[model])])


def link_tabular(ws: Workspace, code: Path) -> Pipeline:
    clean, model, summary = (OutputFileDatasetConfig() for _ in range(3))
    make(code, "prep", raw_input(ws).as_mount(), clean)
    make(code, "train", clean.read_delimited_files().as_input(), model)
    first_half, _ = model.read_delimited_files().random_split(0.5, seed=7)
    last = make(code, "report", first_half.as_input(), summary)
    return Pipeline(ws, steps=[last])


def link_pipeline_data(ws: Workspace, code: Path) -> Pipeline:
    """PipelineData (always named) next to unnamed configs, and a name in a string."""
    clean = PipelineData("clean")
    model, summary = OutputFileDatasetConfig(), OutputFileDatasetConfig()
    make(code, "prep", raw_input(ws).as_mount(), clean, outputs=[clean])
    promoted = clean.as_dataset().as_download()
    tag = f"--tag={model.name}"
    make(code, "train", promoted, model, tag, inputs=[promoted])
    return Pipeline(ws, steps=[make(code, "report", model.as_input(), summary)])


def link_destination(ws: Workspace, code: Path) -> Pipeline:
    """Destinations built from ``{output-name}``: the generated name is in the path."""
    where = (ws.get_default_datastore(), "custom/{run-id}/{output-name}")
    clean, model, summary = (OutputFileDatasetConfig(destination=where) for _ in "123")
    make(code, "prep", raw_input(ws).as_mount(), clean)
    make(code, "train", clean.as_input(), model)
    return Pipeline(ws, steps=[make(code, "report", model.as_input(), summary)])


LINKS: dict[str, Callable[[Workspace, Path], Pipeline]] = {
    "as_input": link_as_input,
    "as_download": link_as_download,
    "upload": link_upload,
    "listed_as_input": link_listed_as_input,
    "tabular_and_split": link_tabular,
    "pipeline_data": link_pipeline_data,
    "destination": link_destination,
}


# -- how the first step reads the datastore (the generated names are in the inputs) --


def source_datapath_tuple(ws: Workspace) -> Any:
    return (DataPath(ws.get_default_datastore(), "raw"), DataPathComputeBinding())


def source_data_reference(ws: Workspace) -> Any:
    return ws.get_default_datastore().path("raw")


def source_datapath_reference(ws: Workspace) -> Any:
    return DataPath(ws.get_default_datastore(), "raw").create_data_reference()


def source_dataset_mount(ws: Workspace) -> Any:
    store = ws.get_default_datastore()
    return Dataset.File.from_files(DataPath(store, "raw")).as_mount()


def source_dataset_download(ws: Workspace) -> Any:
    store = ws.get_default_datastore()
    return Dataset.File.from_files(DataPath(store, "raw")).as_download()


SOURCES: dict[str, Callable[[Workspace], Any]] = {
    "datapath_tuple": source_datapath_tuple,
    "data_reference": source_data_reference,
    "datapath_reference": source_datapath_reference,
    "dataset_as_mount": source_dataset_mount,
    "dataset_as_download": source_dataset_download,
}


def two_steps(ws: Workspace, code: Path, source: Any) -> Pipeline:
    """prep(source) -> unnamed output -> report(.as_input()) -> unnamed output."""
    clean, summary = OutputFileDatasetConfig(), OutputFileDatasetConfig()
    make(code, "prep", source, clean, inputs=[source])
    return Pipeline(ws, steps=[make(code, "report", clean.as_input(), summary)])


def fingerprints(ws: Workspace, pipeline: Pipeline) -> dict[str, str]:
    """``{step name: fingerprint}`` of a pipeline's plan, without running it."""
    compiler = PlanCompiler(pipeline, ws)
    parameters = compiler.parameters(None)
    nodes = compiler.compile().nodes
    advisor = ReuseAdvisor(ws, RunStore(ws.catalog), parameters)
    advisor.use_plan(nodes)
    digests: dict[str, str] = {}
    for node in nodes:  # in topological order: producers first
        digests[node.node_id] = advisor.fingerprint(node, digests).digest
    return {node.name: digests[node.node_id] for node in nodes}


def explanations(run: PipelineRun) -> dict[str, str | None]:
    """``{step name: explanation}`` of a finished run."""
    assert run.get_status() == "Finished", run.get_details()
    return {s.name: s.get_details()["explanation"] for s in run.get_steps()}


def reused(run: PipelineRun, name: str) -> str:
    """The explanation a step of ``run`` shows when a later run reuses it."""
    return f"reused from run {run.id} (step run {step(run, name).id})"


def read_from(run: PipelineRun, name: str, store_root: Path) -> Path:
    """Where step ``name`` of ``run`` read its input (as its one output records)."""
    (output,) = step(run, name).get_outputs().values()
    path = output.get_port_data_reference().path_on_datastore
    row = (store_root / path / "rows.csv").read_text().splitlines()[1]
    return Path(row.split(",")[0])


def output_path(run: PipelineRun, name: str) -> str:
    """Where the one output of step ``name`` of ``run`` is on the datastore."""
    (output,) = step(run, name).get_outputs().values()
    return output.get_port_data_reference().path_on_datastore


class TestFingerprintIgnoresGeneratedNames:
    """Fast: the plan of the same pipeline built twice has the same fingerprints."""

    @pytest.mark.parametrize("link", list(LINKS.values()), ids=list(LINKS))
    def test_link(
        self,
        workspace: Workspace,
        raw: Path,
        code: Path,
        link: Callable[[Workspace, Path], Pipeline],
    ) -> None:
        first = fingerprints(workspace, link(workspace, code))
        again = fingerprints(workspace, link(workspace, code))

        assert sorted(first) == ["prep", "report", "train"]
        assert again == first

    @pytest.mark.parametrize("source", list(SOURCES.values()), ids=list(SOURCES))
    def test_source(
        self,
        workspace: Workspace,
        raw: Path,
        code: Path,
        source: Callable[[Workspace], Any],
    ) -> None:
        first = fingerprints(workspace, two_steps(workspace, code, source(workspace)))
        again = fingerprints(workspace, two_steps(workspace, code, source(workspace)))

        assert again == first

    def test_generated_names_in_argument_strings(
        self, workspace: Workspace, raw: Path, code: Path
    ) -> None:
        """A random name inside a literal argument is seen by its port, too."""

        def build() -> Pipeline:
            ref = workspace.get_default_datastore().path("raw")
            out = OutputFileDatasetConfig()
            tags = [f"--env={ref}", f"--out={out.name}", f"--ref={out.arg_val}"]
            first = make(code, "prep", ref, out, *tags, inputs=[ref])
            return Pipeline(workspace, steps=[first])

        assert fingerprints(workspace, build()) == fingerprints(workspace, build())

    def test_steps_without_names(
        self, workspace: Workspace, raw: Path, code: Path
    ) -> None:
        """Step names default to the script or the command: no random part either."""

        def build() -> Pipeline:
            clean, summary = OutputFileDatasetConfig(), OutputFileDatasetConfig()
            PythonScriptStep(
                "step.py",
                source_directory=str(code / "prep"),
                arguments=[raw_input(workspace).as_mount(), clean],
            )
            last = CommandStep(
                ["python", "step.py", clean.as_input(), summary],
                source_directory=str(code / "report"),
            )
            return Pipeline(workspace, steps=[last])

        first = fingerprints(workspace, build())

        assert sorted(first) == ["python", "step.py"]
        assert fingerprints(workspace, build()) == first

    def test_which_output_is_read_still_counts(
        self, workspace: Workspace, raw: Path, code: Path
    ) -> None:
        """A port is its producer and its place: reading the other output is a change."""

        def build(read_second: bool) -> Pipeline:
            a, b, out = (OutputFileDatasetConfig() for _ in range(3))
            make(code, "prep", raw_input(workspace).as_mount(), a, b)
            chosen = b if read_second else a
            return Pipeline(
                workspace, steps=[make(code, "report", chosen.as_input(), out)]
            )

        first = fingerprints(workspace, build(read_second=False))
        other = fingerprints(workspace, build(read_second=True))

        assert other["prep"] == first["prep"]
        assert other["report"] != first["report"]

    @pytest.mark.parametrize(
        ("before", "after"),
        [("clean", "cleaned"), ("clean", None), (None, "clean")],
        ids=["renamed", "name-removed", "name-given"],
    )
    def test_a_name_the_user_gives_still_counts(
        self,
        workspace: Workspace,
        raw: Path,
        code: Path,
        before: str | None,
        after: str | None,
    ) -> None:
        """The step sees a given name (an environment variable): it is part of the step."""

        def build(name: str | None) -> Pipeline:
            out = OutputFileDatasetConfig(name)
            return Pipeline(
                workspace,
                steps=[make(code, "prep", raw_input(workspace).as_mount(), out)],
            )

        assert fingerprints(workspace, build(before)) != fingerprints(
            workspace, build(after)
        )


def flip_source(code: Path, name: str) -> None:
    """Change step ``name``'s script (one byte of its version comment)."""
    script = code / name / "step.py"
    script.write_text(script.read_text().replace("# version 1", "# version 2"))


def input_lineage(run: PipelineRun, name: str) -> dict[str, Any]:
    """What step ``name`` of ``run`` read through its one input (datastore, path)."""
    ((_, seen),) = step(run, name).get_details()["inputs"].items()
    return {"datastore": seen["datastore"], "path": seen["path"]}


UPSTREAM = r"rerun: input '\w+' changed: upstream step '{}' produced new output"


class TestBuiltAgainIsReused:
    def test_two_steps_with_unnamed_output_and_input(
        self, workspace: Workspace, raw: Path, code: Path
    ) -> None:
        """The report of issue #7, item 4: it used to rerun with "arguments changed"."""

        def build() -> tuple[Pipeline, OutputFileDatasetConfig]:
            clean, summary = OutputFileDatasetConfig(), OutputFileDatasetConfig()
            make(code, "prep", raw_input(workspace).as_mount(), clean)
            report = make(code, "report", clean.as_input(), summary)
            return Pipeline(workspace, steps=[report]), clean

        pipeline, clean = build()
        first = run_pipeline(pipeline)
        pipeline, clean_again = build()
        second = run_pipeline(pipeline)

        assert explanations(first) == dict.fromkeys(("prep", "report"), NO_EARLIER)
        assert explanations(second) == {
            "prep": reused(first, "prep"),
            "report": reused(first, "report"),
        }
        # the reused output answers to the name this build gave it
        assert clean_again.name != clean.name
        assert (
            step(second, "prep").get_output_data(clean_again.name).path_on_datastore
            == step(first, "prep").get_output_data(clean.name).path_on_datastore
        )
        assert step(second, "prep").get_details()["reused_output_names"] == {
            clean_again.name: clean.name
        }

    @pytest.mark.parametrize("link", list(LINKS.values()), ids=list(LINKS))
    def test_three_steps_then_a_change_in_the_middle(
        self,
        workspace: Workspace,
        raw: Path,
        code: Path,
        link: Callable[[Workspace, Path], Pipeline],
    ) -> None:
        first = run_pipeline(link(workspace, code))
        second = run_pipeline(link(workspace, code))
        flip_source(code, "train")
        third = run_pipeline(link(workspace, code))

        steps = ("prep", "train", "report")
        assert explanations(first) == dict.fromkeys(steps, NO_EARLIER)
        assert explanations(second) == {name: reused(first, name) for name in steps}
        for name in steps:
            assert output_path(second, name) == output_path(first, name)
        found = explanations(third)
        assert found["prep"] == reused(first, "prep")
        assert found["train"] == "rerun: source file step.py changed"
        assert re.fullmatch(UPSTREAM.format("train"), str(found["report"]))
        # train found prep's output, committed by the first run under other names
        assert input_lineage(third, "train") == {
            "datastore": workspace.get_default_datastore().name,
            "path": output_path(first, "prep"),
        }

    @pytest.mark.parametrize("source", list(SOURCES.values()), ids=list(SOURCES))
    def test_unnamed_datastore_inputs(
        self,
        workspace: Workspace,
        raw: Path,
        code: Path,
        source: Callable[[Workspace], Any],
    ) -> None:
        first = run_pipeline(two_steps(workspace, code, source(workspace)))
        second = run_pipeline(two_steps(workspace, code, source(workspace)))

        assert explanations(second) == {
            "prep": reused(first, "prep"),
            "report": reused(first, "report"),
        }


def moved_source(ws: Workspace, path: str, kind: str) -> Any:
    """``raw``'s files read from ``path``, under the input name 'raw' (as ``kind``)."""
    store = ws.get_default_datastore()
    if kind == "datapath_tuple":
        return (DataPath(store, path, name="raw"), DataPathComputeBinding())
    if kind == "data_reference":
        return store.path(path, data_reference_name="raw")
    dataset = Dataset.File.from_files(DataPath(store, path))
    return dataset.as_named_input("raw").as_mount()


MOVED_KINDS = ["datapath_tuple", "data_reference", "dataset"]


class TestExplanationsNameTheChange:
    @pytest.mark.parametrize("kind", MOVED_KINDS)
    def test_input_moved_to_a_copy(
        self, workspace: Workspace, raw: Path, code: Path, kind: str
    ) -> None:
        """Issue #7, item 5: it used to say "input 'raw' changed: 0 files differ"."""
        shutil.copytree(raw, raw.parent / "raw_copy")
        store = workspace.get_default_datastore().name
        first = run_pipeline(
            two_steps(workspace, code, moved_source(workspace, "raw", kind))
        )
        moved = moved_source(workspace, "raw_copy", kind)
        second = run_pipeline(two_steps(workspace, code, moved))

        found = explanations(second)
        assert found["prep"] == (
            f"rerun: input 'raw' now points at another path: {store}:/raw_copy "
            f"(was {store}:/raw); same content"
        )
        assert re.fullmatch(UPSTREAM.format("prep"), str(found["report"]))
        assert first.get_status() == "Finished"

    @pytest.mark.parametrize("kind", MOVED_KINDS)
    def test_input_moved_to_other_files(
        self, workspace: Workspace, raw: Path, code: Path, kind: str
    ) -> None:
        other = raw.parent / "raw_v2"
        shutil.copytree(raw, other)
        (other / "b.txt").write_text("new content of b\n")
        (other / "d.txt").write_text("content of d\n")
        store = workspace.get_default_datastore().name
        run_pipeline(two_steps(workspace, code, moved_source(workspace, "raw", kind)))
        moved = moved_source(workspace, "raw_v2", kind)
        second = run_pipeline(two_steps(workspace, code, moved))

        assert explanations(second)["prep"] == (
            f"rerun: input 'raw' now points at another path: {store}:/raw_v2 "
            f"(was {store}:/raw); 2 files differ"
        )

    def test_datapath_parameter_moved(
        self, workspace: Workspace, raw: Path, code: Path
    ) -> None:
        shutil.copytree(raw, raw.parent / "raw_copy")
        store = workspace.get_default_datastore()

        def build() -> Pipeline:
            data = PipelineParameter("data", default_value=DataPath(store, "raw"))
            source = (data, DataPathComputeBinding())
            out = OutputFileDatasetConfig()
            return Pipeline(workspace, steps=[make(code, "prep", source, out)])

        run_pipeline(build())
        moved = {"data": DataPath(store, "raw_copy")}
        second = run_pipeline(build(), pipeline_parameters=moved)

        assert explanations(second) == {
            "prep": f"rerun: input 'data' now points at another path: "
            f"{store.name}:/raw_copy (was {store.name}:/raw); same content; "
            "parameter 'data' changed"
        }

    @pytest.mark.parametrize(
        ("before", "after", "expected"),
        [
            ("clean", "cleaned", "rerun: output 'clean' renamed to 'cleaned'"),
            (
                "clean",
                None,
                "rerun: output 'clean' lost its name: it now has the generated "
                "name '{after}'",
            ),
            (
                None,
                "clean",
                "rerun: output 'clean' was unnamed before (generated name '{before}')",
            ),
        ],
        ids=["renamed", "name-removed", "name-given"],
    )
    def test_only_a_given_name_changed(
        self,
        workspace: Workspace,
        raw: Path,
        code: Path,
        before: str | None,
        after: str | None,
        expected: str,
    ) -> None:
        """A name the step sees changed: the one reason, said as a name change."""

        def build(name: str | None) -> tuple[Pipeline, str]:
            out = OutputFileDatasetConfig(name)
            first = make(code, "prep", raw_input(workspace).as_mount(), out)
            return Pipeline(workspace, steps=[first]), out.name

        pipeline, old_name = build(before)
        run_pipeline(pipeline)
        pipeline, new_name = build(after)
        second = run_pipeline(pipeline)

        assert explanations(second) == {
            "prep": expected.format(before=old_name, after=new_name)
        }

    def test_input_mode_changed(
        self, workspace: Workspace, raw: Path, code: Path
    ) -> None:
        def build(download: bool) -> tuple[Pipeline, str]:
            clean, summary = OutputFileDatasetConfig(), OutputFileDatasetConfig()
            make(code, "prep", raw_input(workspace).as_mount(), clean)
            read = clean.as_input().as_download() if download else clean.as_input()
            last = make(code, "report", read, summary)
            return Pipeline(workspace, steps=[last]), read.name

        pipeline, _ = build(download=False)
        first = run_pipeline(pipeline)
        pipeline, name = build(download=True)
        second = run_pipeline(pipeline)

        assert explanations(second) == {
            "prep": reused(first, "prep"),
            "report": f"rerun: input '{name}': mode changed from 'mount' to 'download'",
        }

    def test_input_removed_added_renamed(
        self, workspace: Workspace, raw: Path, code: Path
    ) -> None:
        """An input listed in inputs only: the arguments stay the same throughout."""
        store = workspace.get_default_datastore()

        def build(extra: str | None) -> Pipeline:
            source = raw_input(workspace).as_mount()
            inputs = [source]
            if extra:
                path = DataPath(store, "raw", name=extra)
                inputs.append((path, DataPathComputeBinding("download")))
            out = OutputFileDatasetConfig("clean")
            return Pipeline(
                workspace, steps=[make(code, "prep", source, out, inputs=inputs)]
            )

        run_pipeline(build("extra"))
        removed = run_pipeline(build(None))
        added = run_pipeline(build("more"))
        renamed = run_pipeline(build("other"))

        assert explanations(removed) == {"prep": "rerun: input 'extra' removed"}
        assert explanations(added) == {"prep": "rerun: input 'more' added"}
        assert explanations(renamed) == {
            "prep": "rerun: input 'more' renamed to 'other'"
        }

    def test_against_a_run_recorded_before_ports_were_kept(
        self, workspace: Workspace, raw: Path, code: Path
    ) -> None:
        """Such a run hashed its generated names: the one rerun says exactly that."""
        store = RunStore(workspace.catalog)

        def build() -> Pipeline:
            clean, summary = OutputFileDatasetConfig(), OutputFileDatasetConfig()
            make(code, "prep", raw_input(workspace).as_mount(), clean)
            return Pipeline(
                workspace, steps=[make(code, "report", clean.as_input(), summary)]
            )

        first = run_pipeline(build())
        for name in ("prep", "report"):
            record = store.get_step_run(step(first, name).id)
            store.update_step_run(
                record.id,
                fingerprint="recorded-by-an-earlier-version",
                details={**record.details, "fingerprint": legacy(record.details)},
            )
        second = run_pipeline(build())
        third = run_pipeline(build())

        said = (
            "rerun: the last run was fingerprinted by an earlier dataferry, with this "
            "step's generated port names in it; generated names no longer count"
        )
        assert explanations(second) == {"prep": said, "report": said}
        assert explanations(third) == {
            "prep": reused(second, "prep"),
            "report": reused(second, "report"),
        }


def legacy(details: dict[str, Any]) -> dict[str, Any]:
    """A step's fingerprint details as dataferry kept them before ports were kept.

    Inputs were known by their names, and the names (random ones too) were hashed
    into the arguments and bindings.
    """
    new = details["fingerprint"]
    keys = [spec["name"] for spec in new["ports"]["inputs"]]
    names = dict(zip(keys, new["port_names"]["inputs"], strict=True))
    parts = dict(new["parts"])
    parts["inputs"] = {names[k]: digest for k, digest in parts["inputs"].items()}
    parts["arguments"] = parts["bindings"] = "hashed-with-random-names"
    files = {names[k]: hashes for k, hashes in new["input_files"].items()}
    return {
        "digest": "recorded-by-an-earlier-version",
        "parts": parts,
        "source_files": new["source_files"],
        "input_files": files,
    }
