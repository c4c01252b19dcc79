"""Full-budget baselines: train each reference (task, model), score it on the private rows, print a table.

The table is the one in baselines/README.md; this script is how it is made and checked.
Usage: python bench/baseline_scores.py [--only TASK/MODEL ...] [--seed S]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

REFERENCES = [
    ("digits", "cnn"),
    ("mnist1d", "cnn"),
    ("mnist1d", "gru"),
    ("mnist1d", "transformer"),
    ("listops", "gru"),
    ("listops", "transformer"),
    ("sunspots", "mlp"),
    ("dates", "transformer"),
    ("dates", "gru"),
]


def trivial_scores(task, folder: Path, score_submission) -> str:
    """The trivial predictions' private scores: majority class, or the training mean and last value; for text,
    the most common answer and the input copied."""
    sample = task.sample_submission()  # majority class / class frequencies / training mean / most common answer
    if task.spec.kind == "text":
        inputs = task.test.sort_values(task.spec.id_column)
        source = next(c for c in inputs.columns if c != task.spec.id_column)
        candidates = {
            "most common answer": sample,
            "input copied": sample.assign(**{task.spec.target: inputs[source].to_numpy()}),
        }
    else:
        candidates = {"majority" if task.spec.is_classification else "mean": sample}
    if not task.spec.is_classification and task.spec.kind != "text":
        last = task.train.sort_values(task.spec.id_column)[task.spec.target].iloc[-1]
        candidates["last value"] = sample.assign(**{task.spec.target: float(last)})
    if task.spec.modality == "tokens":
        candidates["bag-of-words logistic regression"] = bag_of_words(task)
    parts = []
    for name, frame in candidates.items():
        frame.to_csv(folder / "trivial.csv", index=False)
        score = score_submission(task, folder / "trivial.csv")
        parts.append(f"{name} {score.private[score.primary]:.4f}")
    return ", ".join(parts)


def bag_of_words(task):
    """Token counts + logistic regression (scikit-learn): the order-blind reference for token tasks."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    column = task.feature_columns[0]
    vectorizer = CountVectorizer(token_pattern=r"\S+", lowercase=False)
    model = LogisticRegression(max_iter=3000).fit(
        vectorizer.fit_transform(task.train[column]), task.train[task.spec.target]
    )
    frame = task.sample_submission()
    frame[task.spec.target] = model.predict(vectorizer.transform(task.test[column]))
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", help="e.g. mnist1d/gru")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from arena.scoring.score import score_submission
    from baselines.run import config_for, run_baseline

    chosen = [tuple(x.split("/")) for x in args.only] if args.only else REFERENCES
    print(
        "| task | model | private score (95% CI) | trivial on the same rows | validation | train time | parameters | seed |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for task_name, model in chosen:
        started = time.perf_counter()
        run = run_baseline(task_name, model, config_for(task_name, model, seed=args.seed, progress=False))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "predictions.csv"
            run.predictions.to_csv(path, index=False)
            score = score_submission(run.task, path)
            trivial = trivial_scores(run.task, Path(tmp), score_submission)
        metric = score.primary
        low, high = score.private_ci
        print(
            f"| {task_name} | {model} | {metric} {score.private[metric]:.4f} ({low:.4f}-{high:.4f}) "
            f"| {trivial} | {run.val_score:.4f} | {time.perf_counter() - started:.0f} s | {run.parameters:,} | {args.seed} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
