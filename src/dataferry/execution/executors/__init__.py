"""Executors run prepared steps: local processes now, Ray tasks later, one interface."""

from dataferry.execution.executors.base import Executor, PreparedStep, StepHandle
from dataferry.execution.executors.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "PreparedStep", "StepHandle"]
