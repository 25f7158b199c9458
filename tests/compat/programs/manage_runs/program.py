# From Azure/MachineLearningNotebooks (MIT License, Copyright (c) Microsoft Corporation;
# see ../LICENSE-MachineLearningNotebooks.txt), commit f1aff553, how-to-use-azureml/track-and-monitor-experiments/manage-runs/manage-runs.ipynb
# The notebook's code cells in order, unchanged; a %%writefile cell is the file write it
# performs, and !/% lines (pip, magics) are dropped.
import azureml.core
from azureml.core import Workspace, Experiment, Run
from azureml.core import ScriptRunConfig

print(azureml.core.VERSION)

ws = Workspace.from_config()

exp = Experiment(workspace=ws, name="explore-runs")

notebook_run = exp.start_logging()

notebook_run.log(name="message", value="Hello from run!")

print(notebook_run.get_status())

print(notebook_run.get_status())

notebook_run

notebook_run.get_details()

notebook_run.complete()
print(notebook_run.get_status())

with exp.start_logging() as notebook_run:
    notebook_run.log(name="message", value="Hello from run!")
    print("Is it still running?",notebook_run.get_status())
    
print("Has it completed?",notebook_run.get_status())

with open('.amlignore', "w") as f:
    f.write('# Exclude the outputs directory automatically created by our earlier runs.\n/outputs\n')

run_config = ScriptRunConfig(source_directory='.', script='hello.py')

local_script_run = exp.submit(run_config)

print(local_script_run.get_status())
local_script_run

local_script_run.get_details_with_logs()

local_script_run.wait_for_completion(show_output=True)
print(local_script_run.get_status())

local_script_run.add_properties({"author":"azureml-user"})
print(local_script_run.get_properties())

try:
    local_script_run.add_properties({"author":"different-user"})
except Exception as e:
    print(e)

local_script_run.tag("quality", "great run")
print(local_script_run.get_tags())

local_script_run.tag("quality", "fantastic run")
print(local_script_run.get_tags())

local_script_run.tag("worth another look")
print(local_script_run.get_tags())

list(exp.get_runs(properties={"author":"azureml-user"},tags={"quality":"fantastic run"}))

list(exp.get_runs(properties={"author":"azureml-user"},tags="worth another look"))

run_config = ScriptRunConfig(source_directory='.', script='hello_with_children.py')

local_script_run = exp.submit(run_config)
local_script_run.wait_for_completion(show_output=True)
print(local_script_run.get_status())

with exp.start_logging() as parent_run:
    for c,count in enumerate(range(5)):
        with parent_run.child_run() as child:
            child.log(name="Hello from child run", value=c)

list(parent_run.get_children())

run_config = ScriptRunConfig(source_directory='.', script='hello_with_delay.py')

local_script_run = exp.submit(run_config)
print("Did the run start?",local_script_run.get_status())
local_script_run.cancel()
print("Did the run cancel?",local_script_run.get_status())

local_script_run = exp.submit(run_config)
local_script_run.fail()
print(local_script_run.get_status())

local_script_run.restore_snapshot(path="snapshots")
