"""Catalog operations raced by real processes: the harness and the operations.

Imported as ``races`` by tests/catalog and by benchmarks/catalog_concurrency.py. Each
process (forked, so it starts at once) opens the catalog itself; before every try all of
them meet at a barrier, so their operations on the same key overlap. A try's outcome is
a word (``granted``, ``refused``, ``ok``) or, for any exception other than the expected
refusal, ``"<class>: <message>"``: a test asserts there is none.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections import Counter
from typing import TYPE_CHECKING, Any

from dataferry.catalog import SqlCatalog
from dataferry.catalog.hash_cache import HashCache
from dataferry.catalog.run_store import RunStore
from dataferry.catalog.sql_catalog import after_fork_in_child, prepare_fork
from dataferry.errors import OutputLocationBusyError
from dataferry.storage.hashing import HashedFile
from dataferry.storage.location import FileSignature

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

_BARRIER_TIMEOUT_S = 120.0
_OPEN: dict[str, SqlCatalog] = {}


def catalog(url: str) -> SqlCatalog:
    """This process's catalog at ``url`` (opened on first use)."""
    if url not in _OPEN:
        _OPEN[url] = SqlCatalog(url)
    return _OPEN[url]


def close_all() -> None:
    """Close the catalogs this process opened through ``catalog``."""
    for cat in _OPEN.values():
        cat.close()
    _OPEN.clear()


def race(
    urls: Sequence[str],
    worker: Callable[[str, int, int], str],
    *,
    processes: int,
    tries: int,
) -> Counter[str]:
    """Run ``worker(url, process index, try)`` in ``processes`` processes at once,
    ``tries`` times each (try ``i`` on ``urls[i % len(urls)]``); the outcomes counted."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(processes)
    results = ctx.Queue()
    prepare_fork()  # no SQLite connection crosses the fork
    procs = [
        ctx.Process(target=_child, args=(urls, worker, n, tries, barrier, results))
        for n in range(processes)
    ]
    for proc in procs:
        proc.start()
    total: Counter[str] = Counter()
    try:
        for _ in procs:
            total.update(results.get(timeout=_BARRIER_TIMEOUT_S * 2))
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return total


def _child(
    urls: Sequence[str],
    worker: Callable[[str, int, int], str],
    index: int,
    tries: int,
    barrier: Any,
    results: Any,
) -> None:
    after_fork_in_child()
    _OPEN.clear()  # the parent's catalogs are not this process's
    counts: Counter[str] = Counter()
    try:
        for i in range(tries):
            barrier.wait(timeout=_BARRIER_TIMEOUT_S)
            try:
                counts[worker(urls[i % len(urls)], index, i)] += 1
            except Exception as exc:  # counted, so a test shows what escaped
                counts[f"{type(exc).__name__}: {str(exc)[:300]}"] += 1
    except Exception:  # a broken barrier: another process died
        counts[f"harness: {traceback.format_exc()[-300:]}"] += 1
    finally:
        close_all()
        results.put(dict(counts))


# -- the operations -------------------------------------------------------------------


def make_runs(url: str, tries: int, processes: int = 2) -> None:
    """Runs ``r{try}-{process}`` (live: NotStarted) with one step run ``s{try}-{process}``."""
    store = RunStore(catalog(url))
    for i in range(tries):
        for n in range(processes):
            store.create_run(
                f"r{i}-{n}",
                "leases",
                {},
                parameters={},
                options={},
                tags=None,
                description=None,
                steps=[(f"s{i}-{n}", "node", "write")],
            )


def lease(url: str, index: int, i: int) -> str:
    """Process 0 leases ``out``, process 1 ``out/sub``, of datastore ``d{i}``."""
    path = "out" if index == 0 else "out/sub"
    try:
        RunStore(catalog(url)).acquire_lease(
            f"d{i}", path, step_run_id=f"s{i}-{index}", run_id=f"r{i}-{index}"
        )
    except OutputLocationBusyError:
        return "refused"
    return "granted"


def remember_hash(url: str, index: int, i: int) -> str:
    """Every process remembers a hash of the same path ``p{i}``."""
    signature = FileSignature(f"p{i}", size=index + 1, mtime_ns=i)
    HashCache(catalog(url)).remember("ds", [HashedFile(signature, f"h{index}")])
    return "ok"


def submit_to_new_experiment(url: str, index: int, i: int) -> str:
    """Every process submits a run to the same new experiment ``e{i}``."""
    RunStore(catalog(url)).create_run(
        f"run{i}-{index}",
        f"e{i}",
        {},
        parameters={},
        options={},
        tags=None,
        description=None,
        steps=[(f"step{i}-{index}", "node", "a")],
    )
    return "ok"


def write_setting(url: str, index: int, i: int) -> str:
    """Every process writes the same setting ``k{i}``."""
    catalog(url).set_setting(f"k{i}", index)
    return "ok"


def open_fresh(url: str, index: int, i: int) -> str:
    """Every process opens the same fresh (empty) catalog database."""
    SqlCatalog(url).close()
    return "ok"


def register(url: str, index: int, i: int) -> str:
    """Every process registers a new version of the dataset name ``shared``."""
    cat = catalog(url)
    dataset = cat.save_dataset("file", {"paths": [f"p{index}-{i}"]})
    cat.register_version(
        "shared", dataset.id, description=None, tags=None, create_new_version=True
    )
    return "ok"
