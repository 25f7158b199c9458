"""``dataferry runs list|show`` show script and interactive runs too."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from dataferry import Experiment, ScriptRunConfig

if TYPE_CHECKING:
    from pathlib import Path

    from click.testing import Result

    from dataferry import Workspace


def _cells(output: str, run_id: str) -> list[str]:
    line = next(li for li in output.splitlines() if li.startswith(f"│ {run_id} "))
    return [cell.strip() for cell in line.strip("│").split("│")]


@pytest.mark.slow
def test_runs_list_and_show_a_script_run_and_an_interactive_run(
    run: object, workspace: Workspace, tmp_path: Path
) -> None:
    invoke = run  # the cli fixture: invoke("runs", "list")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "hello.py").write_text("print('hello')\n")
    experiment = Experiment(workspace, "scripts")
    script_run = experiment.submit(
        ScriptRunConfig(str(tmp_path / "src"), "hello.py"), run_id="script-1"
    )
    script_run.wait_for_completion()
    interactive = experiment.start_logging(run_id="notebook-1", outputs=False)
    interactive.log("acc", 0.5)
    interactive.complete()

    listing: Result = invoke("runs", "list")  # type: ignore[operator]
    shown: Result = invoke("runs", "show", "script-1")  # type: ignore[operator]

    assert listing.exit_code == 0, listing.output
    assert _cells(listing.stdout, "script-1")[:3] == ["script-1", "scripts", "Finished"]
    assert _cells(listing.stdout, "script-1")[-1] == "script"
    assert _cells(listing.stdout, "notebook-1")[-1] == "interactive"
    assert shown.exit_code == 0, shown.output
    assert "azureml.scriptrun" in shown.stdout
    assert "hello.py" in shown.stdout
