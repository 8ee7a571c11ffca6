"""The model against the obvious baselines on real mail (Enron), as `kith eval` runs it.

    python -m benchmarks.bench_model [--owner NAME ... | --holdout | --others | --openbmc] [--horizon 90]
                                     [--history DAYS]

Each owner's mailbox is synced into its own store; the judgment is made as of
the date 70% of the way through the owner's messages, with only earlier data,
and checked against who exchanged mail both ways with the owner in the
following 90 days. Targets: mean average precision of the model at least 15%
above the best baseline's, and its ROC AUC above every baseline on every owner.
`--holdout` runs the same protocol on other owners (every 7th owner not among
the 18), never looked at while designing the model: the check against tuning;
`--others` on every remaining owner (owners whose history gives no positive
after the date are listed but not counted); `--openbmc` on a mailbox of
another kind, the OpenBMC development list as its most frequent poster sees it.
`--history DAYS` keeps only the mail of the DAYS before each owner's date: how
the judgment does for a new user, before there is enough history to learn from.
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from benchmarks import enron

OWNERS = ("blair-l buy-r corman-s forney-j fossum-d geaccone-t germany-c kuykendall-t love-p mims-thurston-p "
          "neal-s parks-j quigley-d ruscitti-k scott-s smith-m symes-k watson-k").split()
BASELINES = ("recency", "frequency", "two_way_count", "decayed_two_way")
OPENBMC = enron.SHARED.parent / "openbmc" / "openbmc.mbox"
ROUNDS = 500                # bootstrap rounds of chance_of_leading


def holdout_owners() -> list[str]:
    """Owners kept apart from model design: every 7th of the corpus that is not among the 18."""
    return [o for o in enron.owners() if o not in OWNERS][::7]


def other_owners() -> list[str]:
    """Every owner of the corpus that is neither among the 18 nor held out (about 110)."""
    kept = set(OWNERS) | set(holdout_owners())
    return [o for o in enron.owners() if o not in kept]


def seventy_percent_date(db) -> datetime:
    rows = [r[0] for r in db.execute("SELECT sent_at FROM messages ORDER BY sent_at")]
    return datetime.fromisoformat(rows[int(0.7 * (len(rows) - 1))])


def false_noise(db, config, as_of) -> int:
    """Contacts flagged noise although the owner wrote to them twice or more, plus own addresses listed
    as contacts: both must be zero (issue #3, item 7)."""
    from daemon.analysis import analyse

    analysis = analyse(db, config, as_of)
    wrongly_noise = sum(1 for cid, s in analysis.scores.items() if s.noise and analysis.facts[cid].sent >= 2)
    own_listed = sum(1 for f in analysis.facts.values() if set(f.contact.addresses) & analysis.own)
    return wrongly_noise + own_listed


def run_owner(owner: str, horizon: int, work: Path, history: int | None = None
              ) -> tuple[object, float, datetime, int, float]:
    enron.prepare([owner])
    config_path = work / f"{owner}.toml"
    config_path.write_text(enron.config_text([owner], enron.CACHE / "mbox", work / f"{owner}.db"))
    return run_config(config_path, horizon, history)


def run_openbmc(horizon: int, work: Path) -> tuple[object, float, datetime, int, float]:
    """Another kind of mailbox: the OpenBMC development list as its most frequent poster sees it, whose
    relationships are the people who review their patches. The poster is found, not chosen."""
    database = work / "openbmc.db"
    source = f'[[sources]]\ntype = "mbox"\nname = "openbmc"\npath = "{OPENBMC}"\n'
    text = '[user]\naddresses = [{}]\ntimezone = "UTC"\n\n[storage]\ndatabase = "{}"\n\n' + source
    config_path = work / "openbmc.toml"
    config_path.write_text(text.format("", database))
    _, db = synced(config_path)
    poster = db.execute(
        "SELECT sender FROM messages GROUP BY sender ORDER BY count(*) DESC, sender LIMIT 1").fetchone()[0]
    config_path.write_text(text.format(f'"{poster}"', database))
    return run_config(config_path, horizon)


def synced(config_path: Path):
    """The config and its store, with every source synced."""
    from daemon.config import load
    from daemon.store import open_store
    from daemon.sync import sync_all

    config = load(config_path)
    db = open_store(config.database_path)
    sync_all(db, config)
    return config, db


def run_config(config_path: Path, horizon: int, history: int | None = None):
    """Sync the config's sources, then judge as of the 70% date and check against the following `horizon`;
    with `history`, the store first loses the mail older than that many days before the date."""
    from daemon.analysis import evaluation_touches
    from models.evaluate import chance_of_leading, judge, summarize

    config, db = synced(config_path)
    as_of = seventy_percent_date(db).astimezone(config.zone).date()
    if history is not None:
        forget_before(db, as_of - timedelta(days=history))
    started = time.perf_counter()
    touches, cutoff, noise = evaluation_touches(db, config, as_of, horizon)
    judged = judge(touches, cutoff, float(horizon), noise)
    seconds = time.perf_counter() - started
    return summarize(judged), seconds, as_of, false_noise(db, config, as_of), chance_of_leading(judged, ROUNDS)


def forget_before(db, day: date) -> None:
    """Drop every message sent before `day`: a user whose mail source only holds the recent past (a new
    account, a server that keeps a few months), judged by the same protocol on the same date."""
    with db.conn:
        db.conn.execute("CREATE TEMP TABLE old AS SELECT key FROM messages WHERE sent_at < ?", [day.isoformat()])
        for table in ("recipients", "message_copies", "messages"):
            db.conn.execute(f"DELETE FROM {table} WHERE key IN (SELECT key FROM old)")
        db.conn.execute("DROP TABLE old")


def main() -> None:
    parser = argparse.ArgumentParser(description="Kith model benchmark on Enron owners")
    parser.add_argument("--owner", action="append",
                        help="owner(s) to run, repeated or comma-separated (default: the 18 of the issue)")
    parser.add_argument("--holdout", action="store_true", help="run the hold-out owners instead")
    parser.add_argument("--others", action="store_true", help="run every other owner of the corpus instead")
    parser.add_argument("--openbmc", action="store_true",
                        help="run the OpenBMC list archive instead, as its most frequent poster")
    parser.add_argument("--horizon", type=int, default=90)
    parser.add_argument("--history", type=int, default=None, metavar="DAYS",
                        help="keep only the mail of the DAYS before each owner's date (a short history)")
    args = parser.parse_args()
    if args.openbmc:
        if not OPENBMC.is_file():
            raise SystemExit(f"no OpenBMC archive at {OPENBMC}")
        runs = {"openbmc": run_openbmc}
    else:
        if not enron.HEADERS.is_dir():
            raise SystemExit(f"no Enron corpus at {enron.HEADERS}")
        named = [name.strip() for value in args.owner or [] for name in value.split(",") if name.strip()]
        unknown = sorted(set(named) - set(enron.owners()))
        if unknown:
            raise SystemExit(f"no such Enron owner: {', '.join(unknown)} (the names are the files in {enron.HEADERS})")
        owners = named or (holdout_owners() if args.holdout else other_owners() if args.others else OWNERS)
        runs = {owner: functools.partial(run_owner, owner, history=args.history) for owner in owners}
    header = f"{'owner':<16} {'as of':<10} {'cont':>5} {'pos':>4}  {'model AUC':>9} {'AP':>6} {'P@20':>5}  " + \
        "  ".join(f"{b[:12]:>12}" for b in BASELINES) + "   lead?  (baselines: AUC/AP; lead?: see below)"
    print(header)
    model_ap, best_ap, auc_wins, rows, false_flags, leads = [], [], 0, 0, 0, []
    baseline_ap: dict[str, list[float]] = {b: [] for b in BASELINES}
    with tempfile.TemporaryDirectory(prefix="kith-model-") as tmp:
        for owner, run in runs.items():
            result, seconds, as_of, wrong, lead = run(args.horizon, Path(tmp))
            false_flags += wrong
            m = result.results["model"]
            base = [result.results[b] for b in BASELINES]
            cells = "  ".join(f"{b.roc_auc:>5.3f}/{b.average_precision:.3f}" for b in base)
            print(f"{owner:<16} {as_of.isoformat():<10} {result.contacts:>5} {result.positives:>4}  {m.roc_auc:>9.3f} "
                  f"{m.average_precision:>6.3f} {m.precision_at_20:>5.2f}  {cells}   {lead:>5.2f}  {seconds:.1f}s")
            if math.isnan(m.roc_auc):
                continue
            rows += 1
            auc_wins += all(m.roc_auc > b.roc_auc for b in base)
            leads.append(lead)
            model_ap.append(m.average_precision)
            best_ap.append(max(b.average_precision for b in base))
            for name, b in zip(BASELINES, base):
                baseline_ap[name].append(b.average_precision)
    mean_model = statistics.mean(model_ap)
    means = {name: statistics.mean(values) for name, values in baseline_ap.items()}
    best = max(means, key=means.get)
    print("\nmean AP: model {:.3f}; ".format(mean_model) + ", ".join(f"{n} {v:.3f}" for n, v in means.items()))
    print(f"model vs best baseline ({best}): {100 * (mean_model / means[best] - 1):+.1f}% (target +15%); "
          f"vs the best baseline of each owner: {100 * (mean_model / statistics.mean(best_ap) - 1):+.1f}%")
    print(f"model AUC above every baseline on {auc_wins}/{rows} owners (target: all)")
    print(f"lead?: share of {ROUNDS} resamplings of each owner's contacts in which the model's AUC is above every "
          f"baseline's; expected owners led {sum(leads):.1f}/{rows}, chance of leading on all {math.prod(leads):.1g}")
    print(f"contacts written to twice or more but flagged noise, or own addresses listed: {false_flags} (target: 0)")


if __name__ == "__main__":
    main()
