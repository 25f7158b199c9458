"""``python -m dataferry.execution.parallel <step arguments>``: a ParallelRunStep's job."""

from __future__ import annotations

import sys

from dataferry.execution.parallel.job import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
