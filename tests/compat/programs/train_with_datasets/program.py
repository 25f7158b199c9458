# From Azure/MachineLearningNotebooks (MIT License, Copyright (c) Microsoft Corporation;
# see ../LICENSE-MachineLearningNotebooks.txt), commit f1aff553, how-to-use-azureml/work-with-data/datasets-tutorial/train-with-datasets/train-with-datasets.ipynb
# The notebook's code cells in order, unchanged; a %%writefile cell is the file write it
# performs, and !/% lines (pip, magics) are dropped.
# Check core SDK version number
import azureml.core

print('SDK version:', azureml.core.VERSION)

from azureml.core import Workspace

ws = Workspace.from_config()
print(ws.name, ws.resource_group, ws.location, ws.subscription_id, sep='\n')

experiment_name = 'train-with-datasets'

from azureml.core import Experiment
exp = Experiment(workspace=ws, name=experiment_name)

from azureml.core.compute import AmlCompute
from azureml.core.compute import ComputeTarget
import os

# choose a name for your cluster
compute_name = os.environ.get('AML_COMPUTE_CLUSTER_NAME', 'cpu-cluster')
compute_min_nodes = os.environ.get('AML_COMPUTE_CLUSTER_MIN_NODES', 0)
compute_max_nodes = os.environ.get('AML_COMPUTE_CLUSTER_MAX_NODES', 4)

# This example uses CPU VM. For using GPU VM, set SKU to Standard_NC6s_v3
vm_size = os.environ.get('AML_COMPUTE_CLUSTER_SKU', 'STANDARD_D2_V2')


if compute_name in ws.compute_targets:
    compute_target = ws.compute_targets[compute_name]
    if compute_target and type(compute_target) is AmlCompute:
        print('found compute target. just use it. ' + compute_name)
else:
    print('creating a new compute target...')
    provisioning_config = AmlCompute.provisioning_configuration(vm_size=vm_size,
                                                                min_nodes=compute_min_nodes, 
                                                                max_nodes=compute_max_nodes)

    # create the cluster
    compute_target = ComputeTarget.create(ws, compute_name, provisioning_config)
    
    # can poll for a minimum number of nodes and for a specific timeout. 
    # if no min node count is provided it will use the scale settings for the cluster
    compute_target.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)
    
     # For a more detailed view of current AmlCompute status, use get_status()
    print(compute_target.get_status().serialize())

datastore = ws.get_default_datastore()
datastore.upload_files(files = ['./train-dataset/iris.csv'],
                       target_path = 'train-dataset/tabular/',
                       overwrite = True,
                       show_progress = True)

from azureml.core import Dataset
dataset = Dataset.Tabular.from_delimited_files(path = [(datastore, 'train-dataset/tabular/iris.csv')])

# preview the first 3 rows of the dataset
dataset.take(3).to_pandas_dataframe()

script_folder = os.path.join(os.getcwd(), 'train-dataset')

with open(f'{script_folder}/train_iris.py', 'w') as _f:
    _f.write('\nimport os\n\nfrom azureml.core import Dataset, Run\nfrom sklearn.model_selection import train_test_split\nfrom sklearn.tree import DecisionTreeClassifier\n# sklearn.externals.joblib is removed in 0.23\nfrom sklearn import __version__ as sklearnver\nfrom packaging.version import Version\nif Version(sklearnver) < Version("0.23.0"):\n    from sklearn.externals import joblib\nelse:\n    import joblib\n\nrun = Run.get_context()\n# get input dataset by name\ndataset = run.input_datasets[\'iris\']\n\ndf = dataset.to_pandas_dataframe()\n\nx_col = [\'sepal_length\', \'sepal_width\', \'petal_length\', \'petal_width\']\ny_col = [\'species\']\nx_df = df.loc[:, x_col]\ny_df = df.loc[:, y_col]\n\n#dividing X,y into train and test data\nx_train, x_test, y_train, y_test = train_test_split(x_df, y_df, test_size=0.2, random_state=223)\n\ndata = {\'train\': {\'X\': x_train, \'y\': y_train},\n\n        \'test\': {\'X\': x_test, \'y\': y_test}}\n\nclf = DecisionTreeClassifier().fit(data[\'train\'][\'X\'], data[\'train\'][\'y\'])\nmodel_file_name = \'decision_tree.pkl\'\n\nprint(\'Accuracy of Decision Tree classifier on training set: {:.2f}\'.format(clf.score(x_train, y_train)))\nprint(\'Accuracy of Decision Tree classifier on test set: {:.2f}\'.format(clf.score(x_test, y_test)))\n\nos.makedirs(\'./outputs\', exist_ok=True)\nwith open(model_file_name, \'wb\') as file:\n    joblib.dump(value=clf, filename=\'outputs/\' + model_file_name)')

with open('conda_dependencies.yml', 'w') as _f:
    _f.write('\ndependencies:\n- python=3.6.2\n- scikit-learn\n- pip:\n  - azureml-defaults\n  - packaging')

from azureml.core import Environment

sklearn_env = Environment.from_conda_specification(name = 'sklearn-env', file_path = './conda_dependencies.yml')

from azureml.core import ScriptRunConfig

src = ScriptRunConfig(source_directory=script_folder,
                      script='train_iris.py',
                      arguments=[dataset.as_named_input('iris')],
                      compute_target=compute_target,
                      environment=sklearn_env)

run = exp.submit(src)

from azureml.widgets import RunDetails

# monitor the run
RunDetails(run).show()

from sklearn.datasets import load_diabetes
import numpy as np

training_data = load_diabetes()
np.save(file='train-dataset/features.npy', arr=training_data['data'])
np.save(file='train-dataset/labels.npy', arr=training_data['target'])

datastore.upload_files(['train-dataset/features.npy', 'train-dataset/labels.npy'], target_path='diabetes', overwrite=True)

from azureml.core import Dataset

dataset = Dataset.File.from_files(path = [(datastore, 'diabetes/')])

# see a list of files referenced by dataset
dataset.to_path()

with open(f'{script_folder}/train_diabetes.py', 'w') as _f:
    _f.write('\nimport os\nimport glob\nimport argparse\n\nfrom azureml.core.run import Run\nfrom sklearn.linear_model import Ridge\nfrom sklearn.metrics import mean_squared_error\nfrom sklearn.model_selection import train_test_split\n# sklearn.externals.joblib is removed in 0.23\nfrom sklearn import __version__ as sklearnver\nfrom packaging.version import Version\nif Version(sklearnver) < Version("0.23.0"):\n    from sklearn.externals import joblib\nelse:\n    import joblib\n\nimport numpy as np\n\nparser = argparse.ArgumentParser()\nparser.add_argument(\'--data-folder\', type=str, help=\'training dataset\')\nargs = parser.parse_args()\n\nos.makedirs(\'./outputs\', exist_ok=True)\n\nbase_path = args.data_folder\n\nrun = Run.get_context()\n\nX = np.load(glob.glob(os.path.join(base_path, \'**/features.npy\'), recursive=True)[0])\ny = np.load(glob.glob(os.path.join(base_path, \'**/labels.npy\'), recursive=True)[0])\n\nX_train, X_test, y_train, y_test = train_test_split(\n    X, y, test_size=0.2, random_state=0)\ndata = {\'train\': {\'X\': X_train, \'y\': y_train},\n        \'test\': {\'X\': X_test, \'y\': y_test}}\n\n# list of numbers from 0.0 to 1.0 with a 0.05 interval\nalphas = np.arange(0.0, 1.0, 0.05)\n\nfor alpha in alphas:\n    # use Ridge algorithm to create a regression model\n    reg = Ridge(alpha=alpha)\n    reg.fit(data[\'train\'][\'X\'], data[\'train\'][\'y\'])\n\n    preds = reg.predict(data[\'test\'][\'X\'])\n    mse = mean_squared_error(preds, data[\'test\'][\'y\'])\n    run.log(\'alpha\', alpha)\n    run.log(\'mse\', mse)\n\n    model_file_name = \'ridge_{0:.2f}.pkl\'.format(alpha)\n    with open(model_file_name, \'wb\') as file:\n        joblib.dump(value=reg, filename=\'outputs/\' + model_file_name)\n\n    print(\'alpha is {0:.2f}, and mse is {1:0.2f}\'.format(alpha, mse))')

from azureml.core import ScriptRunConfig

src = ScriptRunConfig(source_directory=script_folder, 
                      script='train_diabetes.py', 
                      # to mount the dataset on the remote compute and pass the mounted path as an argument to the training script
                      arguments =['--data-folder', dataset.as_mount()],
                      compute_target=compute_target,
                      environment=sklearn_env)

run = exp.submit(config=src)

# monitor the run
RunDetails(run).show()

run.wait_for_completion()
metrics = run.get_metrics()
print(metrics)

dataset = dataset.register(workspace = ws,
                           name = 'diabetes dataset',
                           description='training dataset',
                           create_new_version=True)

# find the index where MSE is the smallest
indices = list(range(0, len(metrics['mse'])))
min_mse_index = min(indices, key=lambda x: metrics['mse'][x])

print('When alpha is {1:0.2f}, we have min MSE {0:0.2f}.'.format(
    metrics['mse'][min_mse_index], 
    metrics['alpha'][min_mse_index]
))

# find the best model
best_alpha = metrics['alpha'][min_mse_index]
model_file_name = 'ridge_{0:.2f}.pkl'.format(best_alpha)

# register the best model with the input dataset
model = run.register_model(model_name='sklearn_diabetes', model_path=os.path.join('outputs', model_file_name),
                           datasets =[('training data',dataset)])
