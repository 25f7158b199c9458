"""``hash_file`` sizes its read buffer to the file: every size hashes as blake3 does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import blake3
import pytest

from dataferry.storage.hashing import hash_file

if TYPE_CHECKING:
    from pathlib import Path

BLOCK = 8 << 20


@pytest.mark.parametrize(
    "size", [0, 1, 1000, (64 << 10) + 1, BLOCK - 1, BLOCK, BLOCK + 3, 2 * BLOCK + 5]
)
def test_every_size_hashes_as_blake3_of_its_bytes(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    path = tmp_path / "f"
    path.write_bytes(data)

    assert hash_file(str(path)) == blake3.blake3(data).hexdigest()


def test_bytes_read_are_reported_block_by_block(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * (BLOCK + 10))
    told: list[int] = []

    hash_file(str(path), on_bytes=told.append)

    assert told == [BLOCK, 10]
