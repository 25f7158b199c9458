"""Demo step 2: split the prepared rows 80/20 with a seed, into two upload-mode outputs."""

import argparse
import os

from dataferry import Run

parser = argparse.ArgumentParser()
parser.add_argument("--train", required=True)
parser.add_argument("--test", required=True)
args = parser.parse_args()

run = Run.get_context()
prepared = run.input_datasets["prepared"]  # a TabularDataset over step 1's output
train, test = prepared.random_split(percentage=0.8, seed=42)
for folder, part in ((args.train, train), (args.test, test)):
    os.makedirs(folder, exist_ok=True)
    part.to_pandas_dataframe().to_csv(os.path.join(folder, "rows.csv"), index=False)
counts = {
    "train": len(train.to_pandas_dataframe()),
    "test": len(test.to_pandas_dataframe()),
}
run.log_row("split", **counts)
print(f"split into {counts['train']} train and {counts['test']} test rows")
