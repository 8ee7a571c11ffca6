"""Time-split evaluation: judge as of a date with only the data before it, then look ahead.

A contact's label is whether mail went both ways (the user wrote to it and it
wrote to the user) within `horizon` days after the date. The model is compared
with the baselines anyone would try first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from models.features import FEATURES, features_at, two_way_after
from models.touches import Touches
from models.learn import fit_predict, heuristic_value

TOP_K = 20


def baselines(x: np.ndarray) -> dict[str, np.ndarray]:
    """The obvious rankings: recency, frequency, two-way count, decayed two-way volume."""
    f = dict(zip(FEATURES, x.T))
    return {
        "recency": -f["days_since_contact"],
        "frequency": f["sent"] + f["received"],
        "two_way_count": np.minimum(f["sent"], f["received"]),
        "decayed_two_way": f["decayed_two_way"],
    }


def _heuristic(x: np.ndarray) -> np.ndarray:
    """What the daemon judges by when the history is too short to learn from."""
    f = dict(zip(FEATURES, x.T))
    return heuristic_value(f["two_way_threads"], f["sent"], f["received"], f["meetings_one_to_one"],
                           f["meetings_group"])


@dataclass
class Metrics:
    roc_auc: float
    average_precision: float
    precision_at_20: float


@dataclass
class Evaluation:
    contacts: int
    positives: int
    training_rows: int
    results: dict[str, Metrics]        # "model" and each baseline


def metrics(y: np.ndarray, score: np.ndarray) -> Metrics:
    if y.all() or not y.any():
        return Metrics(float("nan"), float("nan"), float("nan"))
    order = np.lexsort((np.arange(len(score)), -score))[:TOP_K]
    return Metrics(round(float(roc_auc_score(y, score)), 4), round(float(average_precision_score(y, score)), 4),
                   round(float(y[order].mean()), 4))


def evaluate(touches: Touches, as_of: float, horizon: float, exclude: np.ndarray | None = None) -> Evaluation:
    """Score every contact known before `as_of` using only earlier data; compare with the future.

    `exclude` marks contacts left out of the evaluation (e.g. ignored ones).
    """
    prediction = fit_predict(touches, as_of, horizon=horizon)
    x, known = features_at(touches, as_of)
    if exclude is not None:
        known &= ~exclude
    y = two_way_after(touches, as_of, horizon)[known]
    rankings = baselines(x[known])
    results = {"model": metrics(y, prediction.now[known] if prediction is not None else _heuristic(x[known]))}
    results |= {name: metrics(y, score) for name, score in rankings.items()}
    return Evaluation(int(known.sum()), int(y.sum()), prediction.training.rows if prediction else 0, results)
