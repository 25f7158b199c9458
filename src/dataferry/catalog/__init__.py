"""Catalog layer: the metadata database (datastores, datasets, runs, outputs, lineage).

Importing it loads SQLAlchemy: tens of thousands of long-lived objects (classes,
functions, caches). The cyclic garbage collector is paused while they are made (it would
otherwise scan them again and again as they pile up) and they are then moved to the
permanent generation (``gc.freeze``), which later collections and the interpreter's exit
skip. Measured on a loaded 2-core machine, ``import sqlalchemy`` in a fresh process went
from 0.46-0.63 s to 0.42-0.43 s and the exit after it from 0.15-0.23 s to 0.02 s. The freeze also covers the objects the importing program made before; they
stay alive until the process ends if they become cyclic garbage later, so the catalog
is imported lazily, when a workspace first needs it.
"""

import gc

_collecting = gc.isenabled()
gc.disable()
try:
    from dataferry.catalog.records import DatasetRecord, DatasetVersionRecord
    from dataferry.catalog.sql_catalog import SqlCatalog, fingerprint_of, now
finally:
    if _collecting:
        gc.enable()
gc.freeze()

__all__ = [
    "DatasetRecord",
    "DatasetVersionRecord",
    "SqlCatalog",
    "fingerprint_of",
    "now",
]
