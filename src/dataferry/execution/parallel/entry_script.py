"""``EntryScript``: what an entry script asks of the job it runs in (Azure ML's
``azureml_user.parallel_run.EntryScript``, served through the compat package).

A worker process sets ``DATAFERRY_PRS_*`` variables before it imports the entry
script; outside a worker the folders fall back to the current one.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import ClassVar

AGENT_VARIABLE = "DATAFERRY_PRS_AGENT"
LOG_DIR_VARIABLE = "DATAFERRY_PRS_LOG_DIR"
OUTPUT_DIR_VARIABLE = "DATAFERRY_PRS_OUTPUT_DIR"
LEVEL_VARIABLE = "DATAFERRY_PRS_LOGGING_LEVEL"


class EntryScript:
    """A singleton per worker process: ``logger``, ``log_dir``, ``output_dir``,
    ``working_dir`` and ``agent_name`` (``processNNN``).

    ``logger`` writes to ``<log_dir>/user/<agent_name>.log`` at the step's
    ``logging_level``.
    """

    _instance: ClassVar[EntryScript | None] = None

    def __new__(cls) -> EntryScript:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    @property
    def agent_name(self) -> str:
        """This worker's name, ``process000`` for the first."""
        return os.environ.get(AGENT_VARIABLE, "process000")

    @property
    def working_dir(self) -> str:
        """The step's working folder (its snapshot)."""
        return os.getcwd()

    @property
    def log_dir(self) -> str:
        """The job's ``logs`` folder."""
        return os.environ.get(LOG_DIR_VARIABLE, str(Path(os.getcwd(), "logs")))

    @property
    def output_dir(self) -> str:
        """The step's output folder (``--output``), where ``summary_only`` scripts
        write their own files; ``./outputs`` if the step has no output."""
        return os.environ.get(OUTPUT_DIR_VARIABLE, str(Path(os.getcwd(), "outputs")))

    @property
    def logger(self) -> logging.Logger:
        """A logger whose records go to this worker's file under ``log_dir/user``."""
        logger = logging.getLogger(f"ParallelRunStep.{self.agent_name}")
        if not logger.handlers:
            folder = Path(self.log_dir, "user")
            folder.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(folder / f"{self.agent_name}.log")
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(message)s")
            )
            logger.addHandler(handler)
            logger.setLevel(os.environ.get(LEVEL_VARIABLE, "INFO"))
        return logger
