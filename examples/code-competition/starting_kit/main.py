"""A starting kit for a code competition: Arena calls predict(input_dir, output_dir) on inputs you never see.

input_dir holds train.csv (the training rows, with labels), test.csv (the rows to predict, without labels) and
sample_submission.csv (the format to write). Write one predictions file into output_dir.

Try it on the public sample first:  arena run examples/code-competition examples/code-competition/starting_kit/main.py
"""

from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression


def predict(input_dir, output_dir):
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    train = pd.read_csv(input_dir / "train.csv")
    test = pd.read_csv(input_dir / "test.csv")
    features = [column for column in test.columns if column != "id"]

    model = LogisticRegression(max_iter=2000)
    model.fit(train[features], train["label"])

    predictions = pd.DataFrame({"id": test["id"], "label": model.predict(test[features])})
    predictions.to_csv(output_dir / "submission.csv", index=False)
    print(f"trained on {len(train)} rows, predicted {len(test)} rows")
