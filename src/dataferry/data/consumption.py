"""DatasetConsumptionConfig: a dataset bound to a step under a name, with an access mode."""

from __future__ import annotations

import os
import warnings
from typing import Any

from dataferry.data.compute_path import check_path_on_compute
from dataferry.data.kinds import is_tabular_dataset, is_workspace
from dataferry.errors import DatasetError, InvalidNameError, PipelineTypeError

_ENV_NAMES = {"path", "ld_library_path", "user", "logname", "home", "pwd", "shell"}
MODES = ("direct", "download", "mount", "hdfs")


def validate_port_name(name: object, what: str = "input") -> str:
    """An input or output name: it becomes an environment variable name in the step.

    Raises:
        InvalidNameError: it is not ASCII letters, digits and ``_``, not starting
            with a digit (``^[a-zA-Z_][a-zA-Z0-9_]*``, nothing after it).
    """
    # str methods, not a regular expression: two names per step of a big pipeline; an
    # ASCII identifier is exactly ``^[a-zA-Z_][a-zA-Z0-9_]*``, and unlike ``$`` it
    # takes no trailing newline
    if not (isinstance(name, str) and name.isascii() and name.isidentifier()):
        raise InvalidNameError(
            f"invalid {what} name {name!r}: it becomes an environment variable, so use "
            "letters, digits and '_', not starting with a digit."
        )
    if name.lower() in _ENV_NAMES:
        warnings.warn(
            f"{what} name {name!r} shadows the environment variable {name.upper()}",
            UserWarning,
            stacklevel=3,
        )
    return name


class DatasetConsumptionConfig:
    """How a step sees a dataset: ``direct`` (the dataset object), ``mount`` or ``download``."""

    def __init__(
        self,
        name: str | None,
        dataset: Any,
        mode: str = "direct",
        path_on_compute: str | None = None,
    ) -> None:
        if isinstance(dataset, tuple):
            dataset = _registered(dataset)
        mode = str(mode).lower()
        if mode not in MODES:
            raise DatasetError(f"mode must be one of {MODES}, not {mode!r}")
        if mode != "direct" and _is_tabular(dataset):
            raise DatasetError(
                f"dataset input '{name}' is tabular: it can only be consumed directly (as the "
                f"dataset object). Only FileDataset supports {mode}."
            )
        if mode == "hdfs":
            raise DatasetError(
                "hdfs mode needs a Synapse Spark pool; use 'mount' or 'download'"
            )
        # a generated name says nothing about the step: it stays out of its fingerprint
        self._auto_name = name is None
        if name is None:
            ds_id = getattr(dataset, "_id", None)
            name = f"input__{(ds_id or os.urandom(4).hex()).split('-')[0][:8]}"
        self._name = validate_port_name(name)
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = check_path_on_compute(path_on_compute, port=self._name)

    @property
    def name(self) -> str:
        """The input name: an environment variable and a key of ``run.input_datasets``."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = validate_port_name(value)
        self._auto_name = False

    @property
    def is_auto_named(self) -> bool:
        """True if the name was generated (none was given), False if the user chose it."""
        return self._auto_name

    @classmethod
    def auto_named(
        cls, prefix: str, dataset: Any, mode: str
    ) -> DatasetConsumptionConfig:
        """A consumption under a generated name, ``<prefix><8 hex digits>``.

        Args:
            prefix: the start of the name, e.g. ``"input_"``.
            dataset: what is consumed (as for the constructor).
            mode: ``direct``, ``mount`` or ``download``.

        Returns:
            The config, with ``is_auto_named`` True.

        Raises:
            DatasetError: as the constructor.
        """
        config = cls(f"{prefix}{os.urandom(4).hex()}", dataset, mode)
        config._auto_name = True
        return config

    @property
    def arg_val(self) -> str:
        """The placeholder that stands for this input in a step's arguments."""
        return f"DatasetConsumptionConfig:{self._name}"

    def _with_mode(
        self, mode: str, path_on_compute: str | None
    ) -> DatasetConsumptionConfig:
        clone = DatasetConsumptionConfig(
            self._name, self.dataset, mode, path_on_compute
        )
        clone._auto_name = self._auto_name
        return clone

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        """The same input, mounted (file datasets only)."""
        return self._with_mode("mount", path_on_compute)

    def as_download(
        self, path_on_compute: str | None = None
    ) -> DatasetConsumptionConfig:
        """The same input, downloaded (file datasets only)."""
        return self._with_mode("download", path_on_compute)

    def as_hdfs(self) -> DatasetConsumptionConfig:
        """Not available without Synapse: raises ``DatasetError``."""
        return self._with_mode("hdfs", None)

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name='{self._name}', mode='{self.mode}')"


def _registered(ref: tuple[Any, ...]) -> Any:
    """The dataset a ``(workspace, name[, version])`` tuple names, as the original SDK.

    The workspace looks it up, so this module never imports the catalog-reading classes
    (the pipeline layer builds inputs with it).

    Raises:
        PipelineTypeError: the tuple is not a Workspace, a name and maybe a version
            (a ``TypeError``).
        DatasetNotFoundError: no such dataset or version is registered.
    """
    if len(ref) not in (2, 3) or not is_workspace(ref[0]):
        raise PipelineTypeError(
            "a dataset input given as a tuple must be (workspace, name) or (workspace, "
            f"name, version), with a Workspace first, not {ref!r}"
        )
    return ref[0].registered_dataset(ref[1], ref[2] if len(ref) == 3 else "latest")


def _is_tabular(dataset: Any) -> bool:
    inner = getattr(dataset, "default_value", dataset)  # a PipelineParameter
    return is_tabular_dataset(inner) or getattr(inner, "_is_tabular", False) is True
