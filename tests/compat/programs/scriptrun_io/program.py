# From Azure/MachineLearningNotebooks (MIT License, Copyright (c) Microsoft Corporation;
# see ../LICENSE-MachineLearningNotebooks.txt), commit f1aff553, how-to-use-azureml/work-with-data/datasets-tutorial/scriptrun-with-data-input-output/how-to-use-scriptrun.ipynb
# The notebook's code cells in order, unchanged; a %%writefile cell is the file write it
# performs, and !/% lines (pip, magics) are dropped.
from azureml.core import Workspace
ws = Workspace.from_config()
print('Workspace name: ' + ws.name, 
      'Azure region: ' + ws.location, 
      'Subscription id: ' + ws.subscription_id, 
      'Resource group: ' + ws.resource_group, sep = '\n')

from azureml.core.compute import ComputeTarget, AmlCompute
from azureml.core.compute_target import ComputeTargetException

# choose a name for your cluster
cluster_name = "cpu-cluster"

try:
    compute_target = ComputeTarget(workspace=ws, name=cluster_name)
    print('Found existing compute target')
except ComputeTargetException:
    print('Creating a new compute target...')
    compute_config = AmlCompute.provisioning_configuration(vm_size='STANDARD_D2_V2', max_nodes=4)

    # create the cluster
    compute_target = ComputeTarget.create(ws, cluster_name, compute_config)

    # can poll for a minimum number of nodes and for a specific timeout. 
    # if no min node count is provided it uses the scale settings for the cluster
    compute_target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)

# use get_status() to get a detailed status for the current cluster. 
print(compute_target.get_status().serialize())

source_directory = 'script_run'

with open(f'{source_directory}/dummy_train.py', 'w') as _f:
    _f.write('\n# Copyright (c) Microsoft Corporation. All rights reserved.\n# Licensed under the MIT License.\nimport sys\nimport os\n\nprint("*********************************************************")\nprint("Hello Azure ML!")\n\nmounted_input_path = sys.argv[1]\nmounted_output_path = sys.argv[2]\n\nprint("Argument 1: %s" % mounted_input_path)\nprint("Argument 2: %s" % mounted_output_path)\n    \nwith open(mounted_input_path, \'r\') as f:\n    content = f.read()\n    with open(os.path.join(mounted_output_path, \'output.csv\'), \'w\') as fw:\n        fw.write(content)')

def_blob_store = ws.get_default_datastore()
def_blob_store.upload_files(files = ['iris.csv'],
                       target_path = 'script-run/',
                       overwrite = True,
                       show_progress = True)

from azureml.core import Dataset
from azureml.data import OutputFileDatasetConfig

input_data = Dataset.File.from_files(def_blob_store.path('script-run/iris.csv')).as_named_input('input').as_mount()

# output is configured to write the result back to def_blob_store, under "sample/outputdataset" folder
# learn more about options to configure the output, run 'help(OutputFileDatasetConfig)'
output = OutputFileDatasetConfig(destination=(def_blob_store, 'sample/outputdataset'))

from azureml.core import Environment
from azureml.core.conda_dependencies import CondaDependencies

myenv = Environment("myenv")

myenv.docker.enabled = True
myenv.python.conda_dependencies = CondaDependencies.create(pip_packages=['azureml-sdk>=1.12.0'])

from azureml.core import ScriptRunConfig

src = ScriptRunConfig(source_directory=source_directory, 
                      script='dummy_train.py', 
                      # to mount the dataset on the remote compute and pass the mounted path as an argument to the training script
                      arguments =[input_data, output],
                      compute_target=compute_target,
                      environment=myenv)

from azureml.core import Experiment
exp = Experiment(ws, 'ScriptRun_sample')
run = exp.submit(config=src)

run.wait_for_completion(show_output=True)
