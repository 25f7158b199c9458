"""Benchmark: transfers to and from Azurite, dataferry against azure-storage-blob.

One run starts its own Azurite (as the tests do, ``tests/servers/azurite.py``) and
moves ``--size-mib`` of data four ways, each through dataferry (``Datastore.upload_files``
and ``Datastore.download``, i.e. the datastore's location) and through the SDK's own
``upload_blob``/``download_blob`` with the same concurrency:

* one file of ``--size-mib``, up and down;
* ``--files`` small files adding up to ``--size-mib``, up and down.

Same concurrency: one file moves in ``CONCURRENCY`` blocks at once both ways, small
files ``SMALL_FILES_AT_ONCE`` at a time both ways (``storage.remote_transfer``). Same
task: a download fetches the folder at a prefix, so the SDK side lists the prefix
(``list_blobs``) as dataferry does, rather than being handed the names.

It prints MB/s for each and the ratio dataferry/SDK (target: >= 1.0x; the SDK is
the ceiling here). Then it writes a CSV of about ``--size-mib`` and reads it into
pandas with ``Dataset.Tabular.from_delimited_files(...).to_pandas_dataframe()`` from
the blob datastore and from the local default datastore, and prints the ratio.

Usage::

    .venv/bin/python benchmarks/transfer.py [--size-mib 1024] [--files 1000]

A smoke run: ``--size-mib 64`` (or smaller; tests run it at 2). Note the load
average printed first: on a busy machine the figures mean little.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # servers.azurite: Azurite as the tests run it

from servers.azurite import ACCOUNT, KEY, running_azurite  # noqa: E402

from dataferry import Dataset, Datastore, Workspace  # noqa: E402
from dataferry.storage.remote_transfer import (  # noqa: E402
    CONCURRENCY,
    SMALL_FILES_AT_ONCE,
)

if TYPE_CHECKING:
    from collections.abc import Callable

MIB = 1 << 20
TARGET_RATIO = 1.0


def timed(call: Callable[[], object]) -> float:
    # the leg before left its bytes dirty in the page cache (Azurite's extents, the
    # files downloaded): written back now, not during this leg, so the first of a
    # pair does not pay for what the other one wrote
    os.sync()
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def make_files(folder: Path, total: int, count: int) -> list[Path]:
    folder.mkdir(parents=True)
    size = max(1, total // count)
    block = os.urandom(min(size, 4 * MIB))
    paths = []
    for i in range(count):
        path = folder / f"f{i:05}.bin"
        with path.open("wb") as fh:
            left = size
            while left > 0:
                fh.write(block[:left])
                left -= len(block)
        paths.append(path)
    return paths


def sdk_upload(container: object, paths: list[Path], prefix: str) -> None:
    def one(path: Path, concurrency: int) -> None:
        with path.open("rb") as fh:
            container.upload_blob(  # type: ignore[attr-defined]
                f"{prefix}/{path.name}", fh, overwrite=True, max_concurrency=concurrency
            )

    if len(paths) == 1:
        one(paths[0], CONCURRENCY)
        return
    with ThreadPoolExecutor(SMALL_FILES_AT_ONCE) as pool:
        list(pool.map(lambda p: one(p, 1), paths))


def sdk_download(container: object, prefix: str, target: Path) -> None:
    """The folder at ``prefix`` through the SDK as its users write it: list the
    prefix (``list_blobs``, lazily paged, so transfers start while it lists), then
    ``download_blob`` each name. dataferry's ``download(prefix=...)`` lists too."""
    target.mkdir(parents=True)
    names = (
        blob.name
        for blob in container.list_blobs(name_starts_with=f"{prefix}/")  # type: ignore[attr-defined]
    )

    def one(name: str, concurrency: int) -> None:
        with (target / os.path.basename(name)).open("wb") as fh:
            container.download_blob(  # type: ignore[attr-defined]
                name, max_concurrency=concurrency
            ).readinto(fh)

    first = next(names)
    rest = list(itertools.islice(names, 1))
    if not rest:  # one blob: its blocks in CONCURRENCY ranges at once
        one(first, CONCURRENCY)
        return
    with ThreadPoolExecutor(SMALL_FILES_AT_ONCE) as pool:
        list(pool.map(lambda n: one(n, 1), itertools.chain([first], rest, names)))


def report(what: str, nbytes: int, ours: float, sdk: float) -> float:
    mb = nbytes / 1e6
    ratio = (mb / ours) / (mb / sdk)
    verdict = "ok" if ratio >= TARGET_RATIO else "BELOW TARGET"
    print(
        f"{what:<28} dataferry {mb / ours:8.1f} MB/s   sdk {mb / sdk:8.1f} MB/s   "
        f"ratio {ratio:5.2f}x  ({verdict})"
    )
    return ratio


def transfers(
    store: Datastore, container: object, tmp: Path, size: int, count: int
) -> None:
    """Each way through dataferry and through the SDK: one file, then many."""
    compare(store, container, tmp, "one file", make_files(tmp / "one", size, 1))
    many = make_files(tmp / "many", size, count)
    compare(store, container, tmp, f"{count} files", many)


def compare(
    store: Datastore, container: object, tmp: Path, label: str, paths: list[Path]
) -> None:
    nbytes = sum(p.stat().st_size for p in paths)
    tag = label.replace(" ", "-")
    ours = timed(
        lambda: store.upload_files(
            [str(p) for p in paths],
            target_path=f"df/{tag}",
            overwrite=True,
            show_progress=False,
        )
    )
    sdk = timed(lambda: sdk_upload(container, paths, f"sdk/{tag}"))
    report(f"upload {label}", nbytes, ours, sdk)
    ours = timed(
        lambda: store.download(
            str(tmp / f"down-df-{tag}"),
            prefix=f"df/{tag}",
            overwrite=True,
            show_progress=False,
        )
    )
    sdk = timed(lambda: sdk_download(container, f"sdk/{tag}", tmp / f"down-sdk-{tag}"))
    report(f"download {label}", nbytes, ours, sdk)


def write_csv(path: Path, size: int) -> None:
    row = "".join(f"{i},{i * 0.5},item{i % 1000},2024-01-01\n" for i in range(10_000))
    with path.open("w") as fh:
        fh.write("id,value,label,day\n")
        while fh.tell() < size:
            fh.write(row)


def csv_read(ws: Workspace, store: Datastore, tmp: Path, size: int) -> None:
    csv = tmp / "table.csv"
    write_csv(csv, size)
    store.upload_files(
        [str(csv)], target_path="csv", overwrite=True, show_progress=False
    )
    local = ws.get_default_datastore()
    local.upload_files(
        [str(csv)], target_path="csv", overwrite=True, show_progress=False
    )

    def read(ds: Datastore) -> Callable[[], object]:
        dataset = Dataset.Tabular.from_delimited_files([(ds, "csv/table.csv")])
        return dataset.to_pandas_dataframe

    local_s = min(timed(read(local)) for _ in range(2))
    blob_s = min(timed(read(store)) for _ in range(2))
    print(
        f"{'csv to pandas':<28} blob {blob_s:6.2f} s   local {local_s:6.2f} s   "
        f"blob/local {blob_s / local_s:5.2f}x"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.size_mib < 1 or args.files < 2:
        parser.error("--size-mib must be >= 1 and --files >= 2")
    from azure.storage.blob import ContainerClient

    print(
        f"load average {os.getloadavg()[0]:.2f}; one file in {CONCURRENCY} blocks at "
        f"once, small files {SMALL_FILES_AT_ONCE} at once"
    )
    with tempfile.TemporaryDirectory(prefix="dataferry-transfer-") as folder:
        tmp = Path(folder)
        with running_azurite(tmp / "azurite") as server:
            ws = Workspace.create("bench", tmp / "project", show_output=False)
            store = Datastore.register_azure_blob_container(
                ws,
                "bench",
                "bench",
                ACCOUNT,
                account_key=KEY,
                protocol="http",
                endpoint=f"127.0.0.1:{server.port}",
                create_if_not_exists=True,
            )
            container = ContainerClient.from_connection_string(
                server.connection_string, "bench"
            )
            # both sides set up and answered once before any timing: the SDK's
            # client is made above; dataferry's location (adlfs imported, its event
            # loop started) here, not inside the first timed upload
            container.get_container_properties()
            store.location.exists("df")
            size = args.size_mib * MIB
            transfers(store, container, tmp / "data", size, args.files)
            csv_read(ws, store, tmp, size)
            ws.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
