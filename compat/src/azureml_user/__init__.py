"""``azureml_user``: the helpers Azure ML provides to entry scripts, served by dataferry.

Its modules (``azureml_user.parallel_run``) are rows of the name table
``dataferry._names.AZUREML``; importing this package installs the ``azureml`` finder
that makes them, so ``from azureml_user.parallel_run import EntryScript`` works in an
entry script that imports nothing else of the SDK.
"""

from __future__ import annotations

import azureml  # noqa: F401  (installs the finder that serves this package's modules)
