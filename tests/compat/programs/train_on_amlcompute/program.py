# From Azure/MachineLearningNotebooks (MIT License, Copyright (c) Microsoft Corporation;
# see ../LICENSE-MachineLearningNotebooks.txt), commit f1aff553, how-to-use-azureml/training/train-on-amlcompute/train-on-amlcompute.ipynb
# The notebook's code cells in order, unchanged; a %%writefile cell is the file write it
# performs, and !/% lines (pip, magics) are dropped.
# Check core SDK version number
import azureml.core

print("SDK version:", azureml.core.VERSION)

from azureml.core import Workspace

ws = Workspace.from_config()
print(ws.name, ws.resource_group, ws.location, ws.subscription_id, sep = '\n')

from azureml.core import Experiment
experiment_name = 'train-on-amlcompute'
experiment = Experiment(workspace = ws, name = experiment_name)

from azureml.core.compute import ComputeTarget, AmlCompute

AmlCompute.supported_vmsizes(workspace = ws)
#AmlCompute.supported_vmsizes(workspace = ws, location='southcentralus')

import os
import shutil

project_folder = './train-on-amlcompute'
os.makedirs(project_folder, exist_ok=True)
shutil.copy('train.py', project_folder)

from azureml.core import Environment
from azureml.core.runconfig import DockerConfiguration
from azureml.core.conda_dependencies import CondaDependencies

myenv = Environment("myenv")
myenv.python.conda_dependencies = CondaDependencies.create(conda_packages=['scikit-learn', 'packaging'])

# Enable Docker
docker_config = DockerConfiguration(use_docker=True)

from azureml.core.compute import ComputeTarget, AmlCompute
from azureml.core.compute_target import ComputeTargetException

# Choose a name for your CPU cluster
cpu_cluster_name = "cpu-cluster"

# Verify that cluster does not exist already
try:
    cpu_cluster = ComputeTarget(workspace=ws, name=cpu_cluster_name)
    print('Found existing cluster, use it.')
except ComputeTargetException:
    compute_config = AmlCompute.provisioning_configuration(vm_size='STANDARD_D2_V2',
                                                           max_nodes=4)
    cpu_cluster = ComputeTarget.create(ws, cpu_cluster_name, compute_config)

cpu_cluster.wait_for_completion(show_output=True)

from azureml.core import ScriptRunConfig

src = ScriptRunConfig(source_directory=project_folder, 
                      script='train.py', 
                      compute_target=cpu_cluster, 
                      environment=myenv,
                      docker_runtime_config=docker_config)
 
run = experiment.submit(config=src)
run

run.get_metrics()

from azureml.core.compute import ComputeTarget, AmlCompute
from azureml.core.compute_target import ComputeTargetException

# Choose a name for your CPU cluster
cpu_cluster_name = "cpu-cluster"

# Verify that cluster does not exist already
try:
    cpu_cluster = ComputeTarget(workspace=ws, name=cpu_cluster_name)
    print('Found existing cluster, use it.')
except ComputeTargetException:
    compute_config = AmlCompute.provisioning_configuration(vm_size='STANDARD_D2_V2',
                                                           vm_priority='lowpriority',
                                                           min_nodes=2,
                                                           max_nodes=4,
                                                           idle_seconds_before_scaledown='300',
                                                           vnet_resourcegroup_name='<my-resource-group>',
                                                           vnet_name='<my-vnet-name>',
                                                           subnet_name='<my-subnet-name>',
                                                           admin_username='<my-username>',
                                                           admin_user_password='<my-password>',
                                                           admin_user_ssh_key='<my-sshkey>',
                                                           remote_login_port_public_access='enabled',
                                                           identity_type='UserAssigned',
                                                           identity_id=['<resource-id1>'])
    cpu_cluster = ComputeTarget.create(ws, cpu_cluster_name, compute_config)

cpu_cluster.wait_for_completion(show_output=True)

# Set compute target to the one created in previous step
src.run_config.target = cpu_cluster
 
run = experiment.submit(config=src)
run

run.get_metrics()

#get_status () gets the latest status of the AmlCompute target
cpu_cluster.get_status().serialize()

#list_nodes () gets the list of nodes on the cluster with status, IP and associated run
cpu_cluster.list_nodes()

#Update () takes in the min_nodes, max_nodes and idle_seconds_before_scaledown and updates the AmlCompute target
#cpu_cluster.update(min_nodes=1)
#cpu_cluster.update(max_nodes=10)
cpu_cluster.update(idle_seconds_before_scaledown=300)
#cpu_cluster.update(min_nodes=2, max_nodes=4, idle_seconds_before_scaledown=600)

#Delete () is used to deprovision and delete the AmlCompute target. Useful if you want to re-use the compute name 
#'cpu-cluster' in this case but use a different VM family for instance.

#cpu_cluster.delete()
