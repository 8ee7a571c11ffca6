"""The learned judgment of value: trained on the user's own history, each run.

The question the model answers is the one a relationship answers over time:
"will this person and the user still write to each other in the next months?"
It learns it from earlier moments of the same mailbox — features as of a past
cut-off, and whether mail then went both ways in the following `horizon` — so
no one labels anything by hand. The user's feedback joins as extra, heavier
examples. Fixed seeds make the same database and date give the same scores; the
model is retrained on each run and never pickled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from collections.abc import Iterator
from contextlib import contextmanager

import joblib
import numpy as np
from threadpoolctl import threadpool_limits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from models.features import DECREASING, FEATURES, INCREASING, features_at, two_way_after
from models.touches import Touches

HORIZON_DAYS = 90.0
CUTOFFS = 12                # training moments: one horizon before now, then every STEP_DAYS further back
STEP_DAYS = 30.0
MAX_ROWS = 60_000           # negatives beyond this are sampled (deterministically)
FEEDBACK_WEIGHT = 25
SEED = 0
PEAK_LOOKBACK_DAYS = (60, 120, 240, 365)


@dataclass
class Training:
    rows: int = 0
    positives: int = 0
    cutoffs: list[float] = field(default_factory=list)
    feedback: int = 0


def make_pipeline() -> Pipeline:
    monotonic = [1 if name in INCREASING else -1 if name in DECREASING else 0 for name in FEATURES]
    return Pipeline([("model", HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=30, l2_regularization=1.0,
        monotonic_cst=monotonic, early_stopping=False, random_state=SEED))])


def training_set(touches: Touches, now: float, horizon: float = HORIZON_DAYS,
                 cutoffs: int = CUTOFFS) -> tuple[np.ndarray, np.ndarray, Training]:
    """Examples from earlier moments of the user's history; only data before `now` is involved."""
    xs, ys, info = [], [], Training()
    for k in range(cutoffs):
        cutoff = now - horizon - k * STEP_DAYS
        x, known = features_at(touches, cutoff)
        if known.sum() == 0:
            break
        xs.append(x[known])
        ys.append(two_way_after(touches, cutoff, horizon)[known])
        info.cutoffs.append(cutoff)
    if not xs:
        return np.empty((0, len(FEATURES))), np.empty(0, dtype=bool), info
    x, y = np.vstack(xs), np.concatenate(ys)
    x, y = _limit(x, y)
    info.rows, info.positives = len(y), int(y.sum())
    return x, y, info


def _limit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(y) <= MAX_ROWS:
        return x, y
    negatives = np.flatnonzero(~y)
    keep_neg = np.random.RandomState(SEED).choice(negatives, size=max(0, MAX_ROWS - int(y.sum())), replace=False)
    keep = np.sort(np.concatenate([np.flatnonzero(y), keep_neg]))
    return x[keep], y[keep]


@dataclass
class Prediction:
    now: np.ndarray             # probability of a two-way future, as of now
    peak: np.ndarray            # the highest it was over the past year: what a lapsed tie was worth
    features: np.ndarray        # the features as of now (contacts × FEATURES)
    training: Training


def fit_predict(touches: Touches, now: float, feedback: dict[int, bool] | None = None,
                horizon: float = HORIZON_DAYS) -> Prediction | None:
    """Scores for every contact as of `now`, or None when the history is too short to learn from.

    `feedback` maps contact numbers to the user's verdict (True: valuable). Those
    contacts join the training set as of `now` with a heavy weight, so that the
    model moves for them and for contacts that look like them.
    """
    x, y, info = training_set(touches, now, horizon)
    current, _ = features_at(touches, now)
    if feedback:
        # each verdict counts as FEEDBACK_WEIGHT examples (repeated rows: sample weights slow the binning down)
        ids = np.repeat(np.array(sorted(feedback), dtype=int), FEEDBACK_WEIGHT)
        x = np.vstack([x, current[ids]])
        y = np.concatenate([y, [feedback[i] for i in ids]])
        info.feedback = len(feedback)
    if len(y) < 20 or y.all() or not y.any():
        return None
    with single_core():
        pipeline = make_pipeline()
        pipeline.fit(x, y)
        scores = pipeline.predict_proba(current)[:, 1]
        peak = scores.copy()
        for days_back in PEAK_LOOKBACK_DAYS:
            past, known = features_at(touches, now - days_back)
            peak = np.where(known, np.maximum(peak, pipeline.predict_proba(past)[:, 1]), peak)
    return Prediction(scores, peak, current, info)


@contextmanager
def single_core() -> Iterator[None]:
    """One thread: on a small problem, thread start-up costs more than it saves, and the
    daemon should not take every core of the user's workstation."""
    with threadpool_limits(1), joblib.parallel_config(n_jobs=1):
        yield
