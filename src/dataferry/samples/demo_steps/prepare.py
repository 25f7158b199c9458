"""Demo step 1: read the raw flowers (direct mode), clean them, add a feature."""

import argparse
import os

from dataferry import Run

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
args = parser.parse_args()

run = Run.get_context()
df = run.input_datasets["flowers"].to_pandas_dataframe()
before = len(df)
df = df.dropna()
df = df[(df.sepal_length > 0) & (df.petal_length > 0)]
df["petal_ratio"] = (df.petal_length / df.petal_width.clip(lower=0.1)).round(3)

os.makedirs(args.out, exist_ok=True)
df.to_csv(os.path.join(args.out, "prepared.csv"), index=False)
run.log("rows_in", before)
run.log("rows_out", len(df))
print(f"prepared {len(df)} of {before} rows")
