"""A ParallelRunStep's job: plan mini-batches, run them on a pool, keep the account,
write the output file whole and ``logs/job_result.txt``.

Exit code 0 when every threshold held; 1 when one was exceeded or ``init()`` kept
failing (the step fails and the driver commits nothing).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from dataferry.errors import ParallelRunError
from dataferry.execution.parallel.accounting import Account
from dataferry.execution.parallel.batches import plan_batches
from dataferry.execution.parallel.options import parse_options
from dataferry.execution.parallel.pool import ProcessPool
from dataferry.execution.parallel.progress import Finished, ProgressLog, progress_key
from dataferry.execution.parallel.ray_pool import RayPool, ray_address
from dataferry.execution.parallel.worker import WorkerSpec
from dataferry.execution.run_context import CONTEXT_ENV, step_workspace
from dataferry.execution.run_layout import run_dir

if TYPE_CHECKING:
    from dataferry.execution.parallel.batches import MiniBatch
    from dataferry.execution.parallel.options import ParallelOptions
    from dataferry.execution.parallel.pool import WorkerPool

log = logging.getLogger("dataferry.parallel")
_POLL_S = 1.0


def main(argv: list[str]) -> int:
    """Run the job of the step this process is; its exit code."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    options, _user_args = parse_options(argv)
    logs = Path.cwd() / "logs"
    logs.mkdir(exist_ok=True)
    try:
        summary = run_job(options, argv, logs)
    except ParallelRunError as exc:
        _result(logs, f"FAILED: {exc}")
        log.error("ParallelRunStep failed: %s", exc)
        return exc.exit_code
    _result(logs, summary)
    log.info("%s", summary)
    return 0


def run_job(options: ParallelOptions, argv: list[str], logs: Path) -> str:
    """Every mini-batch run (or found finished); a one-line summary.

    Raises:
        ParallelRunError: a threshold was exceeded, ``init()`` kept failing, or an
            input cannot be split.
    """
    workspace = step_workspace()
    if workspace is None:
        raise ParallelRunError(
            "the parallel driver runs inside a ParallelRunStep's step process only"
        )
    batches = plan_batches(options, workspace)
    key = progress_key(options.identity(), [b.key for b in batches])
    progress = ProgressLog(_progress_path(workspace.path), key)
    account = Account(len(batches))
    for done in progress.finished.values():
        account.add(done)
    log.info(
        "%d mini-batches, %d finished before; %d workers",
        len(batches),
        len(progress.finished),
        options.worker_count,
    )
    pending = [b for b in batches if b.index not in progress.finished]
    try:
        _check(account, options, is_final=False)
        if pending:
            _run(pending, options, argv, logs, progress, account)
        _check(account, options, is_final=True)
    finally:
        progress.close()
    if options.output_action == "append_row" and options.output:
        _write_rows(Path(options.output, options.append_row_file_name), progress)
    return (
        f"SUCCEEDED: {account.succeeded} of {len(batches)} mini-batches succeeded, "
        f"{account.failed_batches} failed, {account.failed_items} failed items"
    )


def _run(
    pending: list[MiniBatch],
    options: ParallelOptions,
    argv: list[str],
    logs: Path,
    progress: ProgressLog,
    account: Account,
) -> None:
    """Feed ``pending`` to a pool, retrying a failed try up to ``run_max_try``."""
    spec = WorkerSpec(
        entry_script=options.entry_script,
        source_dir=str(Path.cwd()),
        argv=tuple(argv),
        log_dir=str(logs),
        output_dir=options.output or str(Path.cwd() / "outputs"),
        logging_level=options.logging_level,
    )
    pool = _pool(spec, options, count=min(options.worker_count, len(pending)))
    try:
        _drive(pool, pending, options, progress, account)
    finally:
        pool.close()


def _pool(spec: WorkerSpec, options: ParallelOptions, *, count: int) -> WorkerPool:
    """Ray actors when the step runs on a Ray target, else local processes.

    Raises:
        ComputeUnreachableError: the step's Ray cluster cannot be joined.
    """
    limits = {
        "count": count,
        "timeout_s": options.run_invocation_timeout,
        # the reference's rules: 2 * node_count * process_count_per_node failures,
        # or no progress for 3 * run_invocation_timeout + 30 s (see ProcessPool)
        "max_init_failures": 2 * options.worker_count,
        "stall_s": 3 * options.run_invocation_timeout + 30,
    }
    address = ray_address()
    if address is None:
        return ProcessPool(spec, **limits)
    from dataferry.execution.executors.ray_executor import join_cluster

    log.info("running mini-batches as Ray actors on %s", address)
    per_node = options.process_count_per_node or 1
    ray = join_cluster(address)
    return RayPool(
        ray, spec, node_count=options.node_count, per_node=per_node, **limits
    )


def _drive(
    pool: WorkerPool,
    pending: list[MiniBatch],
    options: ParallelOptions,
    progress: ProgressLog,
    account: Account,
) -> None:
    by_index = {b.index: b for b in pending}
    tries = dict.fromkeys(by_index, 0)
    queue = deque(pending)  # popped from the front: 10,000s of mini-batches
    running = 0
    while queue or running:
        while queue and pool.idle():
            batch = queue.popleft()
            tries[batch.index] += 1
            pool.submit(batch)
            running += 1
        for outcome in pool.collect(_POLL_S):
            running -= 1
            batch = by_index[outcome.index]
            if not outcome.is_ok:
                log.warning(
                    "mini-batch %d, try %d of %d failed: %s",
                    batch.index,
                    tries[batch.index],
                    options.run_max_try,
                    outcome.error.strip(),
                )
                if tries[batch.index] < options.run_max_try:
                    queue.append(batch)
                    continue
            done = Finished(
                batch.index, outcome.is_ok, batch.items, outcome.rows, outcome.error
            )
            progress.record(done)
            account.add(done)
            _check(account, options, is_final=False)


def _check(account: Account, options: ParallelOptions, *, is_final: bool) -> None:
    why = account.exceeded(options, is_final=is_final)
    if why is not None:
        raise ParallelRunError(
            f"{why} ({account.succeeded} of {account.total_batches} mini-batches "
            "succeeded); the step's output is not committed. See logs/ for each "
            "failed try"
        )


def _progress_path(workspace: Path) -> Path:
    """``runs/<pipeline run>/parallel/<step>/progress.jsonl`` of this step."""
    context = json.loads(Path(os.environ[CONTEXT_ENV]).read_text("utf-8"))
    folder = run_dir(workspace, str(context["parent_run_id"]))
    return folder / "parallel" / str(context["step_name"]) / "progress.jsonl"


def _write_rows(target: Path, progress: ProgressLog) -> None:
    """Every row, in mini-batch order, written whole (a temporary file renamed)."""
    partial = target.with_name(target.name + ".partial")
    with partial.open("w", encoding="utf-8") as f:
        for index in sorted(progress.finished):
            for row in progress.finished[index].rows:
                f.write(row + "\n")
    os.replace(partial, target)


def _result(logs: Path, text: str) -> None:
    (logs / "job_result.txt").write_text(text + "\n", encoding="utf-8")
