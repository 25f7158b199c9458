"""Demo step 3: fit a nearest-centroid classifier, evaluate it, save the model file."""

import argparse
import json
import os

import pandas as pd

from dataferry import Run

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width", "petal_ratio"]

parser = argparse.ArgumentParser()
parser.add_argument("--train", required=True)
parser.add_argument("--test", required=True)
parser.add_argument("--model", required=True)
args = parser.parse_args()

train = pd.read_csv(os.path.join(args.train, "rows.csv"))
test = pd.read_csv(os.path.join(args.test, "rows.csv"))
centroids = train.groupby("species")[FEATURES].mean()
scale = train[FEATURES].std()


def predict(frame: pd.DataFrame) -> pd.Series:
    distances = {
        s: (((frame[FEATURES] - c) / scale) ** 2).sum(axis=1)
        for s, c in centroids.iterrows()
    }
    return pd.DataFrame(distances).idxmin(axis=1)


accuracy = float((predict(test) == test.species).mean())
os.makedirs(args.model, exist_ok=True)
with open(os.path.join(args.model, "model.json"), "w") as fh:
    json.dump(
        {
            "features": FEATURES,
            "centroids": centroids.to_dict(orient="index"),
            "scale": scale.to_dict(),
            "test_accuracy": accuracy,
        },
        fh,
        indent=2,
    )
Run.get_context().log("test_accuracy", accuracy)
print(f"test accuracy {accuracy:.3f}")
