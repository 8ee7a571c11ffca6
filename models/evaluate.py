"""Time-split evaluation: judge as of a date with only the data before it, then look ahead.

A contact's label is whether mail went both ways (the user wrote to it and it
wrote to the user) within `horizon` days after the date. The model is compared
with the baselines anyone would try first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, roc_auc_score

from models.features import FEATURES, features_at, two_way_after
from models.touches import Touches
from models.learn import fit_predict

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
    model_leads_chance: float = float("nan")   # see `chance_of_leading`; NaN (null in JSON) when not measured


def metrics(y: np.ndarray, score: np.ndarray) -> Metrics:
    if y.all() or not y.any():
        return Metrics(float("nan"), float("nan"), float("nan"))
    order = np.lexsort((np.arange(len(score)), -score))[:TOP_K]
    return Metrics(round(float(roc_auc_score(y, score)), 4), round(float(average_precision_score(y, score)), 4),
                   round(float(y[order].mean()), 4))


@dataclass
class Judged:
    """Every contact known before the date: its label, and its score by the model and by each baseline."""

    labels: np.ndarray
    scores: dict[str, np.ndarray]      # "model" and each baseline, aligned with `labels`
    training_rows: int


def judge(touches: Touches, as_of: float, horizon: float, noise: np.ndarray | None = None) -> Judged:
    """Score every contact known before `as_of` using only earlier data, and label it from the future.

    `noise` marks the contacts the daemon called noise at `as_of`: their value is 0, as in the digest.
    """
    prediction = fit_predict(touches, as_of, horizon=horizon)
    x, known = features_at(touches, as_of)
    model = prediction.now[known]
    if noise is not None:
        model = np.where(noise[known], 0.0, model)
    return Judged(two_way_after(touches, as_of, horizon)[known], {"model": model, **baselines(x[known])},
                  prediction.training.rows)


def summarize(judged: Judged) -> Evaluation:
    y = judged.labels
    results = {name: metrics(y, score) for name, score in judged.scores.items()}
    return Evaluation(len(y), int(y.sum()), judged.training_rows, results)


def evaluate(touches: Touches, as_of: float, horizon: float, noise: np.ndarray | None = None,
             rounds: int = 200) -> Evaluation:
    """The time-split evaluation: metrics of the model and the baselines (see `judge`), and how sure the
    model's lead in ROC AUC is (`rounds` bootstrap resamplings)."""
    judged = judge(touches, as_of, horizon, noise)
    result = summarize(judged)
    result.model_leads_chance = round(chance_of_leading(judged, rounds), 3)
    return result


def chance_of_leading(judged: Judged, rounds: int = 500, seed: int = 0) -> float:
    """How often the model's ROC AUC beats every baseline's when the contacts are resampled (bootstrap,
    positives and negatives apart): how sure one owner's "model above every baseline" is. With a handful
    of positives, a single contact moves AUC by several points and the answer is close to a coin toss."""
    y = judged.labels
    positives, negatives = np.flatnonzero(y), np.flatnonzero(~y)
    if not len(positives) or not len(negatives):
        return float("nan")
    rng = np.random.RandomState(seed)
    names = list(judged.scores)
    scores = np.column_stack([judged.scores[name] for name in names])
    leads = 0
    for _ in range(rounds):
        sample = np.concatenate([rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))])
        ranks = rankdata(scores[sample], axis=0)
        auc = (ranks[: len(positives)].sum(axis=0) - len(positives) * (len(positives) + 1) / 2) \
            / (len(positives) * len(negatives))
        model = auc[names.index("model")]
        leads += all(model > a for name, a in zip(names, auc) if name != "model")
    return leads / rounds
