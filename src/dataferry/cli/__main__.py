"""``python -m dataferry.cli``: the same as the ``dataferry`` command."""

from dataferry.cli.main import main

main()
