"""What an environment asks for reaches the plan, on every path.

Whichever way the packages reach a step (a RunConfiguration's own environment, an
Environment from a file, CondaDependencies, an Estimator's package lists), the step's
plan node carries them in ``environment.request`` (built where the step runs: see
tests/execution/test_environment_builds.py); Docker settings are recorded, not refused.
A user-managed environment installs nothing. Settings of the wrong type are refused at
submit, before anything is written.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import nothing_written

from dataferry import (
    CommandStep,
    CondaDependencies,
    Environment,
    Estimator,
    EstimatorStep,
    Pipeline,
    PythonScriptStep,
    RunConfiguration,
)
from dataferry.errors import (
    EnvironmentDefinitionError,
    PipelineTypeError,
    StepDefinitionError,
)
from dataferry.execution.plan import PlanCompiler

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from dataferry import Workspace


def requested(workspace: Workspace, *steps: object) -> list[dict[str, Any] | None]:
    """Each step's ``environment.request`` in the compiled plan."""
    pipeline = Pipeline(workspace, list(steps))
    assert pipeline.validate() == []
    assert pipeline.environment_problems() == []
    plan = PlanCompiler(pipeline, workspace).compile()
    return [node.environment.request for node in plan.nodes]


NUMPY_AND_SKLEARN = {
    "pip": ["scikit-learn==1.5"],
    "conda": ["numpy"],
    "pip_options": [],
    "channels": [],
    "python": None,
}


def script_step(src: Path, config: RunConfiguration) -> PythonScriptStep:
    return PythonScriptStep(
        "step.py", name="train", source_directory=str(src), runconfig=config
    )


# -- every way packages reach a RunConfiguration ------------------------------------


def packages_added_to_the_default_environment(tmp_path: Path) -> RunConfiguration:
    config = RunConfiguration()  # the report: these were silently dropped
    config.environment.python.conda_dependencies.add_pip_package("scikit-learn==1.5")
    config.environment.python.conda_dependencies.add_conda_package("numpy")
    return config


def conda_dependencies_replaced_on_the_default_environment(
    tmp_path: Path,
) -> RunConfiguration:
    config = RunConfiguration()
    config.environment.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["scikit-learn==1.5"], conda_packages=["numpy"]
    )
    return config


def conda_dependencies_given_to_the_run_configuration(
    tmp_path: Path,
) -> RunConfiguration:
    deps = CondaDependencies.create(
        conda_packages=["numpy"], pip_packages=["scikit-learn==1.5"]
    )
    return RunConfiguration(conda_dependencies=deps)


def conda_file_given_to_the_run_configuration(tmp_path: Path) -> RunConfiguration:
    return RunConfiguration(conda_dependencies=CondaDependencies(conda_file(tmp_path)))


def environment_from_a_conda_file(tmp_path: Path) -> RunConfiguration:
    config = RunConfiguration()
    config.environment = Environment.from_conda_specification(
        "train-env", conda_file(tmp_path)
    )
    return config


def environment_from_a_requirements_file(tmp_path: Path) -> RunConfiguration:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy\n# pinned\nscikit-learn==1.5\n")
    config = RunConfiguration()
    config.environment = Environment.from_pip_requirements(
        "train-env", str(requirements)
    )
    return config


def environment_with_dependencies_set_on_it(tmp_path: Path) -> RunConfiguration:
    env = Environment("train-env")
    env.python.conda_dependencies = CondaDependencies.create(
        conda_packages=["numpy"], pip_packages=["scikit-learn==1.5"]
    )
    env.docker.enabled = True
    env.docker.base_image = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04"
    config = RunConfiguration()
    config.environment = env
    return config


def cloned_environment(tmp_path: Path) -> RunConfiguration:
    config = environment_from_a_conda_file(tmp_path)
    config.environment = config.environment.clone("train-env-2")
    return config


def conda_file(tmp_path: Path) -> str:
    path = tmp_path / "env.yml"
    path.write_text(
        textwrap.dedent(
            """
            name: train
            channels: [conda-forge]
            dependencies:
              - python=3.11
              - numpy
              - pip:
                - scikit-learn==1.5
            """
        )
    )
    return str(path)


PATHS = [
    packages_added_to_the_default_environment,
    conda_dependencies_replaced_on_the_default_environment,
    conda_dependencies_given_to_the_run_configuration,
    conda_file_given_to_the_run_configuration,
    environment_from_a_conda_file,
    environment_from_a_requirements_file,
    environment_with_dependencies_set_on_it,
    cloned_environment,
]


class TestRequestedOnEveryPath:
    @pytest.mark.parametrize("make", PATHS, ids=lambda f: f.__name__)
    def test_a_script_step(
        self,
        workspace: Workspace,
        src: Path,
        tmp_path: Path,
        make: Callable[[Path], RunConfiguration],
    ) -> None:
        (asked,) = requested(workspace, script_step(src, make(tmp_path)))

        assert asked is not None  # a requirements file also adds the conda pip
        assert {*asked["pip"], *asked["conda"]} - {"pip"} == {
            "numpy",
            "scikit-learn==1.5",
        }

    def test_a_conda_file_keeps_its_channels_and_python(
        self, workspace: Workspace, src: Path, tmp_path: Path
    ) -> None:
        (asked,) = requested(
            workspace, script_step(src, environment_from_a_conda_file(tmp_path))
        )

        assert asked == {
            **NUMPY_AND_SKLEARN,
            "channels": ["conda-forge"],
            "python": "3.11",
        }

    def test_a_requirements_file_adds_pip_as_the_sdk_does(
        self, workspace: Workspace, src: Path, tmp_path: Path
    ) -> None:
        step = CommandStep(
            "echo hi",
            name="cmd",
            runconfig=environment_from_a_requirements_file(tmp_path),
        )

        (asked,) = requested(workspace, step)

        assert asked == {
            **NUMPY_AND_SKLEARN,
            "pip": ["numpy", "scikit-learn==1.5"],
            "conda": ["pip"],
        }

    @pytest.mark.parametrize(
        ("packages", "pip", "conda"),
        [
            (
                {"pip_packages": ["torch==2.3", "lightning"]},
                ["torch==2.3", "lightning"],
                [],
            ),
            ({"conda_packages": ["cudatoolkit"]}, [], ["cudatoolkit"]),
        ],
    )
    def test_an_estimator_with_package_lists(
        self,
        workspace: Workspace,
        src: Path,
        packages: dict[str, list[str]],
        pip: list[str],
        conda: list[str],
    ) -> None:
        estimator = Estimator(str(src), entry_script="step.py", **packages)

        (asked,) = requested(workspace, estimator_step(estimator))

        assert asked is not None
        assert (asked["pip"], asked["conda"]) == (pip, conda)

    @pytest.mark.parametrize(
        ("setting", "value"),
        [
            ("base_dockerfile", "FROM ubuntu:22.04\nRUN pip install numpy\n"),
            ("build_context", "./docker"),
            ("base_image", "python:3.11-slim"),
        ],
    )
    def test_docker_settings_are_recorded_not_refused(
        self, workspace: Workspace, src: Path, setting: str, value: str
    ) -> None:
        config = RunConfiguration()
        config.environment = Environment("docker-env")
        config.environment.python.user_managed_dependencies = True
        setattr(config.environment.docker, setting, value)

        (asked,) = requested(workspace, script_step(src, config))

        assert asked == {"docker": {setting: value}}


class TestAccepted:
    def test_a_user_managed_environment_installs_nothing(
        self, workspace: Workspace, src: Path, tmp_path: Path
    ) -> None:
        config = environment_from_a_conda_file(tmp_path)
        config.environment.python.user_managed_dependencies = True

        (asked,) = requested(workspace, script_step(src, config))

        assert asked == {"unmanaged": ["numpy", "scikit-learn==1.5"]}

    def test_no_packages_ask_for_nothing(self, workspace: Workspace, src: Path) -> None:
        config = RunConfiguration(conda_dependencies=CondaDependencies.create())
        estimator = Estimator(str(src), entry_script="step.py")

        assert requested(
            workspace, script_step(src, config), estimator_step(estimator)
        ) == [None, None]


class TestProblemsAtSubmit:
    def test_every_problem_at_once_steps_sharing_an_environment_named_together(
        self, workspace: Workspace, src: Path
    ) -> None:
        shared = RunConfiguration(
            conda_dependencies=CondaDependencies.create(python_version="three")
        )
        other = RunConfiguration(
            conda_dependencies=CondaDependencies.create(pip_packages=["six", " "])
        )
        steps = [
            PythonScriptStep(
                "step.py", name=f"s{i}", source_directory=str(src), runconfig=shared
            )
            for i in range(5)
        ]
        steps.append(
            PythonScriptStep(
                "step.py", name="solo", source_directory=str(src), runconfig=other
            )
        )

        with pytest.raises(EnvironmentDefinitionError) as caught:
            Pipeline(workspace, steps).submit("exp")

        assert str(caught.value).splitlines() == [
            "steps 's0', 's1', 's2' and 2 more: environment 'default-environment': "
            "python version 'three' is not a version (write e.g. '3.11')",
            "step 'solo': environment 'default-environment': an empty package spec "
            "in its pip packages",
        ]
        assert nothing_written(workspace)


class TestWrongTypes:
    def test_an_environment_that_is_not_an_environment(
        self, workspace: Workspace, src: Path
    ) -> None:
        config = RunConfiguration()
        config.environment = "AzureML-Minimal"  # type: ignore[assignment]
        pipeline = Pipeline(workspace, [script_step(src, config)])

        with pytest.raises(
            PipelineTypeError,
            match=r"^step 'train': runconfig.environment must be an Environment, "
            r"not str \('AzureML-Minimal'\)$",
        ):
            pipeline.submit("exp")
        assert nothing_written(workspace)

    @pytest.mark.parametrize(
        ("attribute", "value", "expected"),
        [
            ("conda_dependencies", ["numpy"], "a CondaDependencies"),
            ("user_managed_dependencies", "yes", "True or False"),
        ],
    )
    def test_python_settings_of_the_wrong_type(
        self,
        workspace: Workspace,
        src: Path,
        attribute: str,
        value: object,
        expected: str,
    ) -> None:
        config = RunConfiguration()
        setattr(config.environment.python, attribute, value)
        pipeline = Pipeline(workspace, [script_step(src, config)])

        with pytest.raises(
            TypeError,
            match=rf"^environment 'default-environment': python.{attribute} must be "
            rf"{expected}, not ",
        ):
            pipeline.submit("exp")
        assert nothing_written(workspace)

    def test_estimator_packages_with_an_environment_are_refused_at_once(
        self, src: Path
    ) -> None:
        with pytest.raises(
            StepDefinitionError,
            match=r"pip_packages and conda_packages cannot be combined with "
            r"environment_definition",
        ):
            Estimator(
                str(src),
                entry_script="step.py",
                environment_definition=Environment("mine"),
                pip_packages=["numpy"],
            )

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            (
                {"conda_dependencies": ["numpy"]},
                r"RunConfiguration\(\): conda_dependencies must be a CondaDependencies, "
                r"not list \(\['numpy'\]\)",
            ),
            (
                {"arguments": "--x"},
                r"RunConfiguration\(\): arguments must be a list, not str \('--x'\)",
            ),
            (
                {"framework": 3},
                r"RunConfiguration\(\): framework must be a str, not int \(3\)",
            ),
        ],
    )
    def test_run_configuration_arguments(
        self, kwargs: dict[str, object], message: str
    ) -> None:
        with pytest.raises(PipelineTypeError, match=f"^{message}$"):
            RunConfiguration(**kwargs)  # type: ignore[arg-type]

    @pytest.mark.parametrize("argument", ["pip_packages", "conda_packages"])
    def test_one_package_name_instead_of_a_list(self, src: Path, argument: str) -> None:
        with pytest.raises(
            PipelineTypeError,
            match=rf"^Estimator\(\): {argument} must be a list, not str \('numpy'\)$",
        ):
            Estimator(str(src), entry_script="step.py", **{argument: "numpy"})
        with pytest.raises(
            PipelineTypeError,
            match=rf"^CondaDependencies.create\(\): {argument} must be a list, not str",
        ):
            CondaDependencies.create(**{argument: "numpy"})


def estimator_step(estimator: Estimator) -> EstimatorStep:
    with pytest.warns(DeprecationWarning, match="EstimatorStep is deprecated"):
        return EstimatorStep(
            name="fit",
            estimator=estimator,
            estimator_entry_script_arguments=[],
            compute_target="local",
        )
