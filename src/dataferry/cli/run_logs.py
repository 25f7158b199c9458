"""Reading step runs' stdout and stderr files, as whole files or as they grow."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dataferry.catalog.run_store import StepRunRecord

# (file the driver writes, what goes after the step name in each line's prefix)
_STREAMS = (("stdout.txt", ""), ("stderr.txt", " stderr"))


class LogTail:
    """The lines step runs wrote since the last call, each prefixed ``[step] ``.

    Lines from stderr are prefixed ``[step stderr] ``. A line still being written (no
    newline yet) is held back until it is complete, or until ``is_final``.
    """

    def __init__(self) -> None:
        self._offsets: dict[Path, int] = {}

    def lines(self, rec: StepRunRecord, *, is_final: bool) -> Iterator[str]:
        """New lines of one step run's stdout, then of its stderr."""
        if not rec.log_dir:
            return
        for file_name, marker in _STREAMS:
            prefix = f"[{rec.step_name}{marker}] "
            for line in self._new_lines(Path(rec.log_dir, file_name), is_final):
                yield prefix + line

    def _new_lines(self, path: Path, is_final: bool) -> list[str]:
        offset = self._offsets.get(path, 0)
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except FileNotFoundError:  # the step has not started writing
            return []
        if not is_final:
            data = data[: data.rfind(b"\n") + 1]
        self._offsets[path] = offset + len(data)
        return data.decode("utf-8", errors="replace").splitlines()
