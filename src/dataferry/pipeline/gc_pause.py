"""Pausing the cyclic garbage collector while a big graph or plan is built.

Building a 10,000-step pipeline allocates hundreds of thousands of objects that all
stay alive; each allocation threshold starts a collection that walks them again and
frees nothing, which made up a third of the time of building and submitting one.
Reference counting still frees everything that is not in a cycle meanwhile.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextmanager
def gc_paused() -> Iterator[None]:
    """Within the block the cyclic collector does not run; afterwards it is as before.

    Nested blocks are fine: only the outermost one turns the collector back on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
