"""Every error dataferry raises on purpose, one family per thing a user catches.

Each class also subclasses the builtin that matches its meaning (``LookupError`` for a
missing thing, ``ValueError`` for bad input), so ``except KeyError``-style code written
against the original SDK keeps working. ``exit_code`` is what the CLI exits with.
This module imports nothing from dataferry: every layer may raise these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "EXIT_CODES",
    "ActivityFailedException",
    "AmbiguousRunError",
    "AzureOnlyError",
    "CatalogError",
    "CatalogOutdatedError",
    "CatalogTargetExistsError",
    "CatalogTransferError",
    "CatalogVersionError",
    "CompatShadowError",
    "ComputeConfigurationError",
    "ComputeTargetException",
    "ComputeTargetExistsError",
    "ComputeTargetNotFoundError",
    "ComputeTargetTypeError",
    "DamagedDataError",
    "DataEncodingError",
    "DataFormatError",
    "DataferryError",
    "DatasetError",
    "DatasetExistsError",
    "DatasetNotFoundError",
    "DatasetValidationError",
    "DatastoreAuthenticationError",
    "DatastoreError",
    "DatastoreExistsError",
    "DatastoreNotFoundError",
    "DatastorePathError",
    "DatastoreShapeError",
    "DatastoreUnreachableError",
    "EnvironmentBuildError",
    "EnvironmentDefinitionError",
    "EnvironmentNotFoundError",
    "ExperimentExecutionException",
    "ExperimentNotFoundError",
    "ExtraNotInstalledError",
    "InputChangedError",
    "InvalidDurationError",
    "InvalidNameError",
    "InvalidVersionError",
    "LogOffsetError",
    "LogSearchError",
    "LogStreamError",
    "ModelArgumentError",
    "ModelDownloadExistsError",
    "ModelError",
    "ModelNameError",
    "ModelNotFoundError",
    "ModelPathNotFoundError",
    "ModelPropertyError",
    "MountError",
    "OutputLocationBusyError",
    "ParameterTypeError",
    "PathNotFoundError",
    "PathOnComputeError",
    "PipelineError",
    "PipelineTypeError",
    "PipelineValidationError",
    "PlanFormatError",
    "PlanVersionError",
    "RunArgumentError",
    "RunArgumentTypeError",
    "RunConfigurationException",
    "RunError",
    "RunFileExistsError",
    "RunFileNotFoundError",
    "RunNotFoundError",
    "RunPropertyError",
    "RunStateError",
    "SchedulerStateError",
    "SecretNotFoundError",
    "StepDefinitionError",
    "StepNotFoundError",
    "StorageError",
    "TargetExistsError",
    "UnknownPlaceholderError",
    "UnknownProtocolError",
    "UserErrorException",
    "WaitArgumentError",
    "WorkspaceExistsError",
    "WorkspaceNotFoundError",
    "did_you_mean",
]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest candidate, or ``""``."""
    import difflib  # only when a message is written: importing dataferry stays cheap

    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" Did you mean '{close[0]}'?" if close else ""


# The one table of exit codes: every command exits with one of these (an error's
# ``exit_code``, click's 2 for a bad option, 1 for a run that did not finish, 130 for
# Ctrl-C), and ``dataferry --help`` prints it.
EXIT_CODES: dict[int, str] = {
    0: "ok",
    1: "failed: a run failed or was canceled, or an operation could not be done",
    2: "usage: a bad option, argument, name or input",
    3: "not found: no such workspace, run, step, experiment, dataset, datastore, ...",
    130: "interrupted (Ctrl-C); a run that was being watched goes on",
}


class DataferryError(Exception):
    """Root of every error dataferry raises for bad input, data or configuration.

    ``cli_message``, when given, is the same message worded for the command line
    (``--exist-ok`` where Python reads ``exist_ok=True``): the CLI prints it, Python
    code sees ``str(error)``.
    """

    exit_code = 1

    def __init__(self, *args: object, cli_message: str | None = None) -> None:
        super().__init__(*args)
        self.cli_message = cli_message

    def for_cli(self) -> str:
        """The message as the CLI shows it: ``cli_message`` if given, else ``str()``."""
        return self.cli_message or str(self)


# The original SDK raises UserErrorException for most user mistakes; code that catches it
# keeps working because it is the root of our family.
UserErrorException = DataferryError


class InvalidNameError(DataferryError, ValueError):
    """A name (datastore, dataset, input, output, step) breaks the naming rules."""

    exit_code = 2


class ExtraNotInstalledError(DataferryError, ImportError):
    """A feature needs an optional package that is not installed (names the extra)."""

    exit_code = 1


# -- workspace ------------------------------------------------------------------------


class WorkspaceNotFoundError(DataferryError, FileNotFoundError):
    """No workspace configuration or folder where one was looked for."""

    exit_code = 3


class WorkspaceExistsError(DataferryError, FileExistsError):
    """``Workspace.create`` found a workspace already there."""

    exit_code = 2


# -- the azureml compatibility layer ---------------------------------------------------


class CompatShadowError(DataferryError, ImportError):
    """The ``azureml`` compatibility package would hide a real Azure ML SDK."""

    exit_code = 2


class AzureOnlyError(DataferryError, RuntimeError):
    """A feature of the Azure ML service (AutoML, HyperDrive, web services...) was used."""

    exit_code = 2


# -- compute targets ------------------------------------------------------------------


class ComputeTargetException(DataferryError):
    """A compute target cannot be found, created or configured (the SDK's name)."""


class ComputeTargetNotFoundError(ComputeTargetException, LookupError):
    """No compute target of that name is recorded in the workspace."""

    exit_code = 3


class ComputeTargetExistsError(ComputeTargetException, FileExistsError):
    """A compute target of that name exists with another configuration."""

    exit_code = 2


class ComputeConfigurationError(ComputeTargetException, ValueError):
    """A provisioning configuration or target name is invalid (checked immediately)."""

    exit_code = 2


class ComputeTargetTypeError(ComputeConfigurationError, TypeError):
    """A provisioning setting has the wrong type (``vm_size=4``)."""


class ComputeUnreachableError(ComputeTargetException, ConnectionError):
    """A compute target's cluster (a Ray address) cannot be reached or joined."""

    exit_code = 3


class DatastoreNotOnComputeError(ComputeConfigurationError):
    """A step's datastore cannot be reached from the nodes of its compute target
    (a local folder with a multi-node cluster); found before any step starts."""


class ComputeNodeUnavailableError(ComputeTargetException, LookupError):
    """No live node of a step's Ray cluster has the labels or resources the step
    asks for (a pinned node was lost, or never existed): the step fails, not waits."""

    exit_code = 3


class ComputeNodeLostError(ComputeTargetException, ConnectionError):
    """A step's Ray worker or node was lost more often than its target's
    ``lost_node_retries`` allows; nothing of it was committed (a rerun from the step
    runs it again)."""

    exit_code = 1


class StepSpecError(ComputeTargetException, ValueError):
    """The spec a step runner was given on its node lacks what the step needs (a
    datastore's registration, the code snapshot by its hash); nothing ran."""

    exit_code = 2


# -- catalog --------------------------------------------------------------------------


class CatalogError(DataferryError):
    """The catalog database cannot be opened or used."""


class CatalogVersionError(CatalogError):
    """The catalog was written by a newer dataferry than this one."""


class CatalogOutdatedError(CatalogError):
    """The catalog's schema is older than this dataferry's (``dataferry catalog
    migrate`` upgrades it)."""


class CatalogMachinePathsError(CatalogError):
    """A shared workspace's catalog keeps absolute local paths, which name places on
    one machine only (``dataferry catalog check`` lists them)."""


class CatalogTransferError(CatalogError, ValueError):
    """A catalog export file cannot be imported: not one, damaged, of another schema
    revision, or its rows did not all arrive."""

    exit_code = 2


class CatalogTargetExistsError(CatalogError, FileExistsError):
    """An export would overwrite a file, or an import would mix rows into a catalog
    that already holds some."""

    exit_code = 2


class CatalogBusyError(CatalogError, TimeoutError):
    """Concurrent writers kept ending a catalog operation (serialization failure,
    deadlock, a lock held too long) through every retry."""


class CatalogUnavailableError(CatalogError, ConnectionError):
    """The catalog database could not be reached, or the connection to it was lost
    through every retry."""


class CatalogOutageWindowError(CatalogError, ValueError):
    """The workspace setting ``catalog_outage_window_s`` (how long a driver waits for
    a catalog it cannot reach) is not a number of seconds >= 0."""

    exit_code = 2


# -- storage --------------------------------------------------------------------------


class DatastoreError(DataferryError):
    """A datastore registration is wrong or cannot be used."""


class DatastoreNotFoundError(DatastoreError, LookupError):
    """No datastore is registered under the given name."""

    exit_code = 3

    @classmethod
    def named(cls, name: str, registered: Iterable[str]) -> DatastoreNotFoundError:
        """The error for ``name``, listing the ``registered`` names (with a guess)."""
        names = sorted(registered)
        return cls(
            f"no datastore named '{name}' in this workspace.{did_you_mean(name, names)}"
            f" Registered: {', '.join(names) or 'none'}."
        )


class DatastoreExistsError(DatastoreError):
    """A datastore is already registered under the name and ``overwrite`` is False."""

    exit_code = 2


class UnknownProtocolError(DatastoreError, ValueError):
    """An fsspec URL names a protocol that no installed package provides."""

    exit_code = 2


class DatastorePathError(DatastoreError, ValueError):
    """A path on a datastore leaves its root, or is not a path on it (absolute, a URL)."""

    exit_code = 2


class DatastoreShapeError(DatastoreError, ValueError):
    """A registration's container, account, endpoint or key cannot be right (its shape)."""

    exit_code = 2


class SecretNotFoundError(DatastoreError, LookupError):
    """A credential the datastore needs is neither in the secrets file nor the env."""

    exit_code = 3


class DatastoreAuthenticationError(DatastoreError, PermissionError):
    """The store refused the datastore's credentials (a wrong key or SAS token, 403)."""

    exit_code = 2


class DatastoreUnreachableError(DatastoreError, ConnectionError):
    """The store did not answer within the connect/read timeouts (closed port, no host)."""


class MachineBoundDatastoreError(DatastoreError, PermissionError):
    """A shared workspace's local datastore (a folder in one workspace folder) was used
    from another workspace folder, where its files are not."""

    exit_code = 2


class StorageError(DataferryError, OSError):
    """Reading or writing a datastore failed."""


class PathNotFoundError(StorageError, FileNotFoundError):
    """A path or glob on a datastore matches nothing."""

    exit_code = 3


class TargetExistsError(StorageError, FileExistsError):
    """A download or upload would overwrite files and ``overwrite`` is False."""

    exit_code = 2


class StorageUnavailableError(StorageError, ConnectionError):
    """The store stopped answering during a transfer or commit, and still did not
    answer when the bounded retries ran out."""


class StorageSettingError(StorageError, ValueError):
    """A storage setting from the environment is not valid (a retry window...)."""

    exit_code = 2


class TransferIncompleteError(StorageError):
    """After a transfer, a file is missing or has another size than the listing's."""


class OutputChangedError(StorageError):
    """An output on an object store was overwritten while it was being read, again
    on every re-read allowed: what was read could mix its old and new files."""


class MountError(StorageError):
    """A dataset cannot be mounted at the requested mount point."""


class FuseUnavailableError(MountError):
    """A remote input is to be mounted, FUSE is not available here, and the workspace's
    ``mount_fallback`` setting is ``error`` (instead of downloading it)."""

    exit_code = 2


class MountSettingError(MountError, ValueError):
    """The workspace's ``mount_fallback`` setting is not one of its values."""

    exit_code = 2


class DamagedDataError(StorageError):
    """Committed data was changed after it was committed, so it is not served."""


# -- datasets -------------------------------------------------------------------------


class DatasetError(DataferryError):
    """A dataset definition or registration is wrong."""


class DatasetNotFoundError(DatasetError, LookupError):
    """No registered dataset (or version, or id) matches."""

    exit_code = 3


class DatasetExistsError(DatasetError):
    """The name is taken and ``create_new_version`` is False."""

    exit_code = 2


class InvalidVersionError(DatasetError, ValueError):
    """A dataset version is not a positive integer or ``'latest'``."""

    exit_code = 2


class DatasetNotRegisteredError(DatasetError, ValueError):
    """A call that needs a registered dataset (its lineage) got an unregistered one."""

    exit_code = 2


class DatasetPreviewError(DatasetError, ValueError):
    """A dataset preview or profile was asked for with a bad row count, or of a file
    dataset (which has no rows)."""

    exit_code = 2


class DatasetValidationError(DatasetError, ValueError):
    """A dataset's paths do not resolve, or its first rows do not parse."""

    exit_code = 2


class DataFormatError(DatasetValidationError):
    """A data file is malformed: the message names the file and the row."""


class DataEncodingError(DataFormatError, UnicodeError):
    """A data file has bytes its declared encoding cannot decode (file, row, column)."""


# -- pipelines and runs ---------------------------------------------------------------


class PipelineError(DataferryError):
    """A step or pipeline is defined wrongly."""

    exit_code = 2


class StepDefinitionError(PipelineError, ValueError):
    """A step's arguments are wrong (missing script, raw Dataset input, bad port name)."""


class UnknownPlaceholderError(StepDefinitionError):
    """An output destination holds a ``{...}`` other than ``{run-id}`` or ``{output-name}``."""


class PipelineTypeError(StepDefinitionError, TypeError):
    """A pipeline, step or experiment got an argument of the wrong type (a programmer mistake).

    Raised at construction, naming the argument and the types it takes. It is a
    ``TypeError``, and still a ``StepDefinitionError`` (a ``ValueError``), which is what
    the original SDK raises for most of these, so either ``except`` keeps working.
    """


class PathOnComputeError(StepDefinitionError):
    """A ``path_on_compute`` leaves the step's working folder, or names it itself."""


class RunConfigurationException(StepDefinitionError):
    """A ``ScriptRunConfig`` or run configuration has a wrong value (the SDK's name)."""


class ExperimentExecutionException(StepDefinitionError):
    """A script run cannot be submitted: its script is not in its source folder, or a
    dataset argument cannot be bound (the SDK's name)."""


class ParallelRunConfigError(StepDefinitionError):
    """A ``ParallelRunConfig`` or ``ParallelRunStep`` has a wrong value (a threshold out
    of range, a reserved argument, inputs of two kinds, a missing entry script)."""


class ParallelRunSizeError(ParallelRunConfigError):
    """A ParallelRunStep asks for more workers than its compute target has: more
    nodes than ``max_nodes``, or more processes per node than a node's cores."""


class PipelineValidationError(PipelineError, ValueError):
    """``Pipeline.validate()`` found problems; all of them are in the message."""

    def __init__(self, problems: list[str], pipeline: str = "pipeline") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in {pipeline}:\n{lines}")


class EnvironmentDefinitionError(PipelineError, ValueError):
    """An environment's definition cannot be used: a requirement pip cannot read, a
    saved environment folder that is missing or malformed, a version and a label."""


class EnvironmentArgumentError(PipelineError, TypeError):
    """An environment call got an argument of the wrong type (``Environment.label``
    with labels that are not a list of str)."""


class EnvironmentNotFoundError(PipelineError, LookupError):
    """``Environment.get``: no environment of that name (or version) is registered."""

    exit_code = 3


class EnvironmentBuildError(PipelineError, RuntimeError):
    """A step's environment cannot be built: a requirement cannot be satisfied (the
    message names it and pip's answer), or the interpreter to build it from fails."""

    exit_code = 1


class PinNotInstallableError(EnvironmentBuildError):
    """An exact pin (``scikit-learn==0.22.1``) cannot be installed on this Python, and
    neither can any version that may replace it (same major.minor, else newer); the
    message names the package, the versions the index offers and why each failed."""


class PublishedPipelineError(PipelineError):
    """A published pipeline or pipeline endpoint refused a request."""


class PublishedPipelineNotFoundError(PublishedPipelineError, LookupError):
    """No published pipeline or pipeline endpoint has that id (or name)."""

    exit_code = 3


class PublishedPipelineStateError(PublishedPipelineError, ValueError):
    """A disabled published pipeline or endpoint was submitted, an endpoint name is
    taken, or an endpoint version is unknown (the SDK raises ``ValueError``)."""


class ScheduleError(PublishedPipelineError):
    """A pipeline schedule refused a request."""


class ScheduleValidationError(ScheduleError, ValueError):
    """A ``ScheduleRecurrence`` or ``Schedule.create``/``update`` argument is wrong
    (the SDK raises ``ValueError``); the message names it and what it takes."""


class ScheduleNotFoundError(ScheduleError, LookupError):
    """No schedule has that id."""

    exit_code = 3


class ServeError(DataferryError, ValueError):
    """``dataferry serve`` cannot start: a bad host or port, or the port is taken."""

    exit_code = 2


class ServeRequestError(ServeError):
    """A request to ``dataferry serve`` is malformed: its body is not a JSON object,
    or a query value or header is out of range. Answered with a 400."""


class RequestTooLargeError(ServeRequestError):
    """A request body to ``dataferry serve`` is over its size limit (a 413)."""


class RequestMediaTypeError(ServeRequestError):
    """A request body to ``dataferry serve`` is sent with a Content-Type other than
    JSON (a 415)."""


class ModelError(DataferryError):
    """The model registry refused a request; the SDK's ``WebserviceException``."""

    exit_code = 2


class ModelNameError(ModelError, ValueError):
    """A model name breaks the SDK's rule (a letter or digit, then up to 254 letters,
    digits, ``-``, ``.`` or ``_``)."""


class ModelArgumentError(ModelError, TypeError):
    """An argument of a model call has the wrong type (a version that is not an int,
    tag filters that are not a list, datasets that are not (scenario, dataset) pairs)."""


class ModelPropertyError(ModelError, ValueError):
    """``model.add_properties`` would change a property (they can only be added)."""


class ModelNotFoundError(ModelError, LookupError):
    """No model of that name (or version) is registered; ``ModelNotFoundException``."""

    exit_code = 3


class ModelPathNotFoundError(ModelError, FileNotFoundError):
    """The files to register are not there: a local path that does not exist, or a
    path no file of the run matches; ``ModelPathNotFoundException``."""

    exit_code = 3


class ModelPathAmbiguousError(ModelError, ValueError):
    """``PipelineRun.register_model``: the path names files of more than one step
    run; the message names them and how to pick one."""


class ModelDownloadExistsError(ModelError, FileExistsError):
    """``model.download`` would overwrite a file and ``exist_ok`` is False."""


class RunError(DataferryError):
    """A run cannot be found, driven or changed as asked."""


class AgentError(RunError, RuntimeError):
    """The local agent that records runs failed in a way that is not the catalog's or
    the pipeline's (it went away mid-conversation, say); the message says what it was."""


class AgentRequestError(AgentError, ValueError):
    """A message to the local agent is not one it takes (a field missing or of the
    wrong type, a message too large); the message names the field and what it takes.
    A submitting script of another dataferry version can send one: use the same
    version for the script and the agent, or ``DATAFERRY_AGENT=0``."""

    exit_code = 2


class RunNotFoundError(RunError, LookupError):
    """No run or step run has the given id."""

    exit_code = 3


class StepNotFoundError(RunNotFoundError):
    """A run has no step of the given name; the message lists its steps and the
    closest name."""


class ExperimentNotFoundError(RunNotFoundError):
    """No run was ever submitted under the given experiment name."""


class AmbiguousRunError(RunError, LookupError):
    """A run id prefix matches more than one run; the message lists them."""

    exit_code = 2


class RunArgumentError(RunError, ValueError):
    """A run API call got an argument it cannot use (``log_image`` with both or
    neither of ``path`` and ``plot``, a confusion matrix without its ``data``...)."""

    exit_code = 2


class RunArgumentTypeError(RunArgumentError, TypeError):
    """A run API call got arguments of the wrong shape (``upload_files`` with names
    and paths of different lengths: a ``TypeError`` in the SDK)."""


class RunPropertyError(RunError, ValueError):
    """A run property was given a new value: properties are written once."""

    exit_code = 2


class RunFileExistsError(RunError, FileExistsError):
    """A run file of that name was already uploaded to the run."""

    exit_code = 2


class RunFileNotFoundError(RunError, FileNotFoundError):
    """The run has no file (artifact) of that name."""

    exit_code = 3


class RunStateError(RunError):
    """The run is in a state that does not allow the operation (resume a live run, ...)."""

    exit_code = 2


class SnapshotMissingError(RunError, FileNotFoundError):
    """A step's source snapshot is not in this workspace folder (the run was submitted
    from another folder sharing the catalog)."""

    exit_code = 2


class StatusTransitionError(RunStateError):
    """A run or step run was asked to move to a status its current one does not allow
    (a step that already ended cannot start again, a finished run cannot be canceled)."""


class UnknownStatusError(RunStateError):
    """A run or step run has a status this dataferry does not know (a catalog changed
    by hand or by another program): no move is made from it, strict or not."""


class EventCursorError(RunError, ValueError):
    """Events were asked for after an id that cannot be one (negative, not an integer)."""

    exit_code = 2


class RunSearchError(RunError, ValueError):
    """A runs search names a status no run can have, or its text is too long."""

    exit_code = 2


class SchedulerStateError(RunStateError, RuntimeError):
    """The scheduler was told of an event its state does not allow (a step that is not
    running reported finished, an unknown step): a fault of the driver, not of the plan."""


class ParallelRunError(RunError, RuntimeError):
    """A ParallelRunStep's job stopped: a failure threshold was exceeded, ``init()``
    kept failing, or an input cannot be split into mini-batches."""

    exit_code = 1


class PlanFormatError(RunError, ValueError):
    """A run's stored plan cannot be read: a field is missing or of the wrong kind."""

    exit_code = 2


class PlanVersionError(PlanFormatError):
    """A run's plan was stored by a newer dataferry, in a version this one cannot read."""


class OutputLocationBusyError(RunError):
    """Another live run is writing the same output location."""


class InputChangedError(RunError, PermissionError):
    """A step's read-only input changed while it ran (a write the system let through)."""


class LogOffsetError(RunError, ValueError):
    """A log was asked for from a byte offset (or in a chunk size) that cannot be one."""

    exit_code = 2


class LogStreamError(RunError, ValueError):
    """A step's log was asked for by a stream name that is not stdout or stderr."""

    exit_code = 2


class LogSearchError(RunError, ValueError):
    """A step's log was searched for an empty, multi-line or too long text, or with a
    match limit out of range."""

    exit_code = 2


class WaitArgumentError(RunError, ValueError):
    """A wait was asked for with a negative timeout or a poll interval that is not positive."""

    exit_code = 2


class ActivityFailedException(RunError):
    """A waited-for run failed (``wait_for_completion(raise_on_error=True)``)."""

    def __init__(self, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class InvalidDurationError(DataferryError, ValueError):
    """A duration such as ``7d`` or ``12h`` is malformed."""

    exit_code = 2


class ParameterTypeError(PipelineError, TypeError):
    """A pipeline parameter is overridden with a value of another kind than its default."""
