"""The learned model: deterministic, blind to the future, moved by feedback, measured by `kith eval`.

The sample mailbox drives the command line as a user would; small hand-built
histories pin down the label and the goal weighting exactly.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from click.testing import CliRunner

from daemon import store
from daemon.analysis import analyse, end_of_day, evaluate_store, own_addresses
from daemon.cli import cli
from daemon.config import load, parse
from models.facts import load_facts
from models.learn import fit_predict
from models.touches import collect, to_days
from models.scorer import VALUABLE
from tests.conftest import Address, Batch, event, message
from tests.sample import SAMPLE_DAY, sample_config

USER = Address("sam.keller@northwind.example", "Sam Keller")
MIDWAY = "2026-01-15"            # a date inside the sample, with two months of mail after it
BASELINES = {"recency", "frequency", "two_way_count", "decayed_two_way"}


def sample_kith(tmp_path: Path):
    """A freshly synced copy of the sample; returns a function running kith on it, and the config path."""
    config = sample_config(tmp_path)
    runner = CliRunner()

    def kith(*args: str):
        result = runner.invoke(cli, ["--config", str(config), *args])
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    kith("sync")
    return kith, config


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return sample_kith(tmp_path_factory.mktemp("model-sample"))


def contacts(kith, day: str = SAMPLE_DAY) -> dict[str, dict]:
    return {row["address"]: row for row in json.loads(kith("contacts", "--as-of", day, "--json"))}


def touches_until(config_path: Path, day: date, extra_days: int = 0):
    """The touch arrays as `kith eval` builds them: facts up to `extra_days` after the end of `day`."""
    config = load(config_path)
    db = store.open_store(config.database_path)
    cutoff = end_of_day(day, config)
    facts = load_facts(db, own_addresses(db, config), cutoff + timedelta(days=extra_days),
                       aliases=[(p.name, p.addresses) for p in config.people])
    return collect(facts), to_days(cutoff)


# 1. Determinism ------------------------------------------------------------------------------------------------


def test_the_same_store_and_date_give_the_same_scores(sample):
    kith, config = sample
    first, second = contacts(kith), contacts(kith)
    assert {a: (r["value"], r["peak_value"]) for a, r in first.items()} == \
        {a: (r["value"], r["peak_value"]) for a, r in second.items()}
    touches, now = touches_until(config, date.fromisoformat(SAMPLE_DAY))
    a, b = fit_predict(touches, now), fit_predict(touches, now)
    assert np.array_equal(a.now, b.now) and np.array_equal(a.peak, b.peak)
    assert a.now.max() - a.now.min() > 0.5       # and the scores say something: not one value for everyone


# 2. No look-ahead ----------------------------------------------------------------------------------------------


def test_mail_after_the_date_does_not_change_the_judgment_as_of_that_date(tmp_path):
    kith, config = sample_kith(tmp_path)
    before = contacts(kith, MIDWAY)
    quiet, stranger = Address("peter.novak@bizdev-partners.example"), Address("new.friend@later.example")
    start = datetime(2026, 1, 20, 9, tzinfo=ZoneInfo("UTC"))
    late = [message(900_000 + 100 * k + i, sender=USER if i % 2 == 0 else person,
                    to=(person,) if i % 2 == 0 else (USER,), subject=f"Plans {i // 2}", at=start + timedelta(days=i))
            for k, person in enumerate((quiet, stranger)) for i in range(20)]
    store.apply_batch(store.open_store(load(config).database_path), "late", Batch(messages=tuple(late)))
    after = contacts(kith, MIDWAY)
    assert after == before
    # the evaluation loads mail after the date (for the labels): the model must not see it either
    day = date.fromisoformat(MIDWAY)
    (cut, now), (full, _) = touches_until(config, day), touches_until(config, day, extra_days=90)
    assert len(full.t) > len(cut.t)
    blind, seeing = fit_predict(cut, now), fit_predict(full, now)
    index = {cid: i for i, cid in enumerate(full.ids)}
    rows = [index[cid] for cid in cut.ids]
    assert np.allclose(blind.now, seeing.now[rows]) and np.allclose(blind.peak, seeing.peak[rows])


# 3. Feedback ---------------------------------------------------------------------------------------------------


def test_feedback_overrides_the_model_and_moves_similar_contacts(tmp_path):
    kith, config = sample_kith(tmp_path)
    before = contacts(kith)
    # two cold first contacts that look alike: one stranger wrote once, nobody answered yet
    marked, similar = "ines@startup-awards.example", "peter.novak@bizdev-partners.example"
    strong = "luca.rossi@posteo.example"
    assert before[strong]["value"] > 0.5 and not before[strong]["noise"]
    kith("feedback", marked, "good")
    kith("feedback", strong, "noise")
    # verdicts count from the moment they are given; date them to the sample's morning, as if given then
    db = store.open_store(load(config).database_path)
    with db.conn:
        db.conn.execute("UPDATE feedback SET at = ?", [f"{SAMPLE_DAY}T06:00:00Z"])
    after = contacts(kith)
    assert after[strong]["noise"] and after[strong]["value"] == 0.0 and after[strong]["state"] == "noise"
    assert not after[marked]["noise"] and after[marked]["valuable"] and after[marked]["verdict"] == "good"
    best = sorted((row["value"] for a, row in before.items() if not row["noise"] and a != marked), reverse=True)
    assert after[marked]["value"] >= max(0.3, best[19]) > before[marked]["value"]     # among the 20 most valuable
    assert "you marked them as good" in kith("explain", marked, "--as-of", SAMPLE_DAY)
    assert after[similar]["value"] >= before[similar]["value"] + 0.05
    rank = lambda rows, address: sorted(rows, key=lambda a: -rows[a]["value"]).index(address)  # noqa: E731
    assert rank(after, similar) < rank(before, similar)


def test_a_verdict_in_a_young_mailbox_moves_no_one_else(sample):
    """Five months of mail is too little to learn from: a "noise" on one contact (a newsletter) must not teach a
    model of a few rows that then values nobody (walkthrough 23: every value fell from 0.8 to under 0.2)."""
    _, config = sample
    touches, now = touches_until(config, date(2025, 1, 20))
    plain = fit_predict(touches, now)
    assert plain.training.rows == 0                      # the transparent rule stands in
    marked = int(np.argmax(plain.now))
    told = fit_predict(touches, now, feedback={marked: False})
    others = np.arange(touches.n) != marked
    assert told.training.rows == 0 and np.allclose(told.now[others], plain.now[others])


def test_clear_withdraws_a_verdict_given_by_mistake(tmp_path):
    kith, config = sample_kith(tmp_path)
    before = contacts(kith)
    strong = "luca.rossi@posteo.example"
    kith("feedback", strong, "noise")
    kith("feedback", strong, "not-now")
    said = kith("feedback", strong, "clear")
    assert "withdrawn" in said
    db = store.open_store(load(config).database_path)
    with db.conn:       # given in that order on the sample's morning
        for n, verdict in enumerate(("noise", "not-now", "clear")):
            db.conn.execute("UPDATE feedback SET at = ? WHERE verdict = ?", [f"{SAMPLE_DAY}T06:0{n}:00Z", verdict])
    after = contacts(kith)
    assert not after[strong]["noise"] and after[strong]["verdict"] is None
    assert after[strong]["value"] == before[strong]["value"]            # the model judges as if never told
    from daemon.analysis import _snoozed
    assert strong not in _snoozed(db, analyse(db, load(config), date.fromisoformat(SAMPLE_DAY)))


def test_clear_withdraws_goal_verdicts_too_and_refuses_an_address_never_judged(tmp_path):
    kith, config = sample_kith(tmp_path)
    jonas = "jonas.hart@paybridge.example"
    before = contacts(kith)[jonas]["goals"]["Fintech customers"]
    kith("feedback", jonas, "noise", "--goal", "fintech customers")
    kith("feedback", jonas, "clear")
    db = store.open_store(load(config).database_path)
    with db.conn:
        for n, verdict in enumerate(("noise", "clear")):
            db.conn.execute("UPDATE feedback SET at = ? WHERE verdict = ?", [f"{SAMPLE_DAY}T06:0{n}:00Z", verdict])
    assert contacts(kith)[jonas]["goals"]["Fintech customers"] == before > 0.5
    refused = CliRunner().invoke(cli, ["--config", str(config), "feedback", "nobody@elsewhere.example", "clear"])
    assert refused.exception.exit_code == 2
    assert "no verdict on nobody@elsewhere.example to withdraw" in str(refused.exception)


def test_feedback_takes_an_address_as_mail_shows_it_refuses_a_non_address_and_says_when_nobody_is_known(tmp_path):
    kith, config = sample_kith(tmp_path)
    said = kith("feedback", "Luca Rossi <Luca.Rossi@posteo.example>", "not-now")
    assert said.startswith("luca.rossi@posteo.example: snoozed") and "no mail or meeting" not in said
    said = kith("feedback", "someone.new@elsewhere.example", "good")
    assert "no mail or meeting with this address yet" in said
    refused = CliRunner().invoke(cli, ["--config", str(config), "feedback", "Luca Rossi", "good"])
    assert refused.exception.exit_code == 2 and "'Luca Rossi' is not an e-mail address" in str(refused.exception)
    db = store.open_store(load(config).database_path)
    assert [r[0] for r in db.execute("SELECT address FROM feedback ORDER BY id")] == [
        "luca.rossi@posteo.example", "someone.new@elsewhere.example"]


def test_feedback_for_a_goal_raises_the_contacts_rank_and_teaches_the_goal(tmp_path):
    kith, config = sample_kith(tmp_path)
    marked, same_firm = "katrin.vogel@paybridge.example", "jonas.hart@paybridge.example"
    db = store.open_store(load(config).database_path)

    def judged():
        scores = analyse(db, load(config), date.fromisoformat(SAMPLE_DAY)).scores
        return scores, contacts(kith)
    scores, rows = judged()
    before = {a: (scores[a].priority, rows[a]["goals"]["Investors"]) for a in (marked, same_firm)}
    assert max(fit for _, fit in before.values()) < 0.1
    assert "relevant to “Investors”" in kith("feedback", marked, "good", "--goal", "Investors")
    with db.conn:
        db.conn.execute("UPDATE feedback SET at = ?", [f"{SAMPLE_DAY}T06:00:00Z"])
    scores, rows = judged()
    assert rows[marked]["goals"]["Investors"] == 1.0 and scores[marked].priority > before[marked][0]
    assert rows[same_firm]["goals"]["Investors"] >= 0.5 and scores[same_firm].priority > before[same_firm][0]
    assert not rows[marked]["noise"] and rows[marked]["value"] > 0     # relevant to a goal is not a verdict on value
    said = kith("explain", same_firm, "--as-of", SAMPLE_DAY)
    assert "Investors (" in said and "at paybridge.example, like a contact you marked relevant" in said
    assert "you marked them relevant" in kith("explain", marked, "--as-of", SAMPLE_DAY)


# 4. kith eval --------------------------------------------------------------------------------------------------


def test_eval_json_contract_on_the_sample(sample):
    kith, _ = sample
    data = json.loads(kith("eval", "--as-of", "2025-12-01", "--horizon", "60", "--json"))
    assert data["as_of"] == "2025-12-01" and data["horizon_days"] == 60
    assert data["contacts"] > 40 and 0 < data["positives"] < data["contacts"] and data["training_rows"] > 0
    assert set(data["results"]) == {"model"} | BASELINES
    for metrics in data["results"].values():
        assert set(metrics) == {"roc_auc", "average_precision", "precision_at_20"}
        assert all(0.0 <= v <= 1.0 for v in metrics.values())
    assert data["results"]["model"]["roc_auc"] > 0.8
    assert 0.0 <= data["model_leads_chance"] <= 1.0


def test_eval_says_when_the_history_was_too_short_to_learn_from(sample):
    kith, _ = sample
    early = json.loads(kith("eval", "--as-of", "2025-01-20", "--json"))
    assert early["training_rows"] == 0 and early["positives"] > 0
    text = kith("eval", "--as-of", "2025-01-20")
    assert "the transparent rule stood in for the learned model" in text
    assert "only 5 months of mail before it, too little to learn from" in text
    assert "trained on" in kith("eval", "--as-of", "2025-12-01")


def test_eval_says_when_too_few_contacts_make_its_figures(sample):
    """Four contacts with two-way mail in the week after: figures, and a word that they measure little."""
    kith, _ = sample
    assert json.loads(kith("eval", "--as-of", "2025-12-01", "--horizon", "7", "--json"))["positives"] == 4
    few = kith("eval", "--as-of", "2025-12-01", "--horizon", "7")
    assert "ROC AUC" in few and "Note: with 4 contacts with two-way mail afterwards, these figures turn on one" in few
    assert "these figures turn on" not in kith("eval", "--as-of", "2025-12-01")


LABEL_CONFIG = """
[user]
addresses = ["me@home.example"]
timezone = "UTC"
"""


def test_a_contact_is_positive_only_if_mail_went_both_ways_within_the_horizon(db):
    me = Address("me@home.example")
    as_of = date(2026, 3, 1)
    day = lambda n: datetime(2026, 3, 2, 10, tzinfo=ZoneInfo("UTC")) + timedelta(days=n)  # noqa: E731
    people = {name: Address(f"{name}@example.org") for name in ("both", "only_me", "only_them", "late", "split")}
    n = iter(range(1, 1000))
    history = [m for p in people.values() for m in (
        message(next(n), sender=me, to=(p,), at=day(-60)), message(next(n), sender=p, to=(me,), at=day(-59)))]
    after = [
        message(next(n), sender=me, to=(people["both"],), at=day(3)),
        message(next(n), sender=people["both"], to=(me,), at=day(4)),
        message(next(n), sender=me, to=(people["only_me"],), at=day(3)),
        message(next(n), sender=people["only_them"], to=(me,), at=day(3)),
        message(next(n), sender=me, to=(people["late"],), at=day(45)),
        message(next(n), sender=people["late"], to=(me,), at=day(46)),
        message(next(n), sender=me, to=(people["split"],), at=day(2)),      # both ways, weeks apart, no reply
        message(next(n), sender=people["split"], to=(me,), at=day(70)),
    ]
    store.apply_batch(db, "t", Batch(messages=tuple(history + after)))
    store.refresh_own_addresses(db, [me.email])
    config = parse(LABEL_CONFIG, Path("/tmp/kith-label.toml"))
    short, medium, long = (evaluate_store(db, config, as_of, h) for h in (30, 60, 90))
    assert short.contacts == medium.contacts == long.contacts == len(people)
    assert (short.positives, medium.positives, long.positives) == (1, 2, 3)


def test_eval_without_a_date_judges_the_latest_moment_whose_outcome_the_store_has_seen(sample):
    kith, config = sample
    settings = load(config)
    db = store.open_store(settings.database_path)
    newest = datetime.fromisoformat(db.execute("SELECT max(sent_at) FROM messages").fetchone()[0])
    data = json.loads(kith("eval", "--horizon", "30", "--json"))
    assert data["as_of"] == (newest.astimezone(settings.zone).date() - timedelta(days=30)).isoformat()
    assert data["horizon_complete"] is True and data["positives"] > 0


def test_one_stray_message_months_after_an_archive_ends_does_not_move_evals_default_date(db):
    from daemon.analysis import latest_evaluable_day, newest_mail_day
    me, anna = Address("me@home.example"), Address("anna@firm.example")
    start = datetime(2001, 1, 1, 9, tzinfo=ZoneInfo("UTC"))
    mail = [message(i, sender=anna, to=(me,), at=start + timedelta(hours=6 * i)) for i in range(1200)]
    stray = message(5000, sender=anna, to=(me,), at=datetime(2002, 9, 22, 9, tzinfo=ZoneInfo("UTC")))
    store.apply_batch(db, "t", Batch(messages=(*mail, stray)))
    config = parse(LABEL_CONFIG, Path("/tmp/kith-stray.toml"))
    assert newest_mail_day(db, config) == date(2002, 9, 22)              # what `newest_mail` reports
    assert latest_evaluable_day(db, config, 90) == mail[-1].sent_at.date() - timedelta(days=90)


def test_evals_default_date_stays_out_of_an_archives_dwindling_tail(db):
    from daemon.analysis import latest_evaluable_day
    me, anna = Address("me@home.example"), Address("anna@firm.example")
    start = datetime(2001, 1, 1, 9, tzinfo=ZoneInfo("UTC"))
    busy = [message(i, sender=anna, to=(me,), at=start + timedelta(hours=6 * i)) for i in range(4 * 365)]
    wound_down = start + timedelta(days=365)
    tail = [message(9000 + i, sender=anna, to=(me,), at=wound_down + timedelta(days=5 * i)) for i in range(1, 25)]
    store.apply_batch(db, "t", Batch(messages=(*busy, *tail)))
    config = parse(LABEL_CONFIG, Path("/tmp/kith-tail.toml"))
    day = latest_evaluable_day(db, config, 90)
    end = tail[-1].sent_at.date()
    assert day < end - timedelta(days=90)                          # not the latest date the store could give …
    assert wound_down.date() - timedelta(days=90) <= day <= wound_down.date() - timedelta(days=30)   # … its busy end


def test_evals_default_date_stays_before_the_user_stopped_writing(db):
    """A maintainer who left a list: its mail goes on for years, his own stopped, and so did his two-way ties."""
    from daemon.analysis import latest_evaluable_day
    me, anna = Address("me@home.example"), Address("anna@firm.example")
    start = datetime(2001, 1, 1, 9, tzinfo=ZoneInfo("UTC"))
    listed = [message(i, sender=anna, to=(me,), at=start + timedelta(hours=12 * i)) for i in range(4 * 730)]
    mine = [message(9000 + i, to=(anna,), at=start + timedelta(days=2 * i)) for i in range(300)]
    store.apply_batch(db, "t", Batch(messages=(*listed, *mine)))
    store.refresh_own_addresses(db, [me.email])
    day = latest_evaluable_day(db, parse(LABEL_CONFIG, Path("/tmp/kith-left.toml")), 90)
    stopped = mine[-1].sent_at.date()
    assert stopped - timedelta(days=90) <= day <= stopped - timedelta(days=30)
    from daemon.analysis import quiet_horizon
    config = parse(LABEL_CONFIG, Path("/tmp/kith-left.toml"))
    assert quiet_horizon(db, config, day, 90) is None                          # the date eval picks
    after, before = quiet_horizon(db, config, stopped, 90)                    # an explicit --as-of after he left
    assert after == 0 and before == 45
    path = db.conn.execute("PRAGMA database_list").fetchone()[2]
    (Path(path).parent / "left.toml").write_text(LABEL_CONFIG + f'[storage]\ndatabase = "{path}"\n')
    said = CliRunner().invoke(cli, ["--config", str(Path(path).parent / "left.toml"), "eval", "--as-of",
                                    stopped.isoformat()]).output
    assert "Note: you wrote 0 messages in the horizon against 45 in as many days before it" in said

def test_eval_says_when_the_horizon_runs_past_today(sample):
    kith, config = sample
    today = datetime.now(load(config).zone).date()
    assert json.loads(kith("eval", "--as-of", today.isoformat(), "--json"))["horizon_complete"] is False
    assert "runs past today" in kith("eval", "--as-of", today.isoformat())
    assert "runs past today" not in kith("eval", "--as-of", "2025-12-01")


def test_eval_says_when_the_store_ends_before_the_horizon(sample):
    kith, config = sample
    settings = load(config)
    newest = datetime.fromisoformat(store.open_store(settings.database_path).execute(
        "SELECT max(sent_at) FROM messages").fetchone()[0]).astimezone(settings.zone).date()
    data = json.loads(kith("eval", "--as-of", (newest - timedelta(days=10)).isoformat(), "--json"))
    assert data["horizon_complete"] is False and data["newest_mail"] == newest.isoformat()
    said = kith("eval", "--as-of", (newest - timedelta(days=10)).isoformat())
    assert f"the newest mail in the store is from {newest.isoformat()}, before the horizon ends" in said
    assert "Note: you wrote " not in said and data["quiet_horizon"] is False     # unfinished, not a quiet tail
    assert json.loads(kith("eval", "--as-of", "2025-12-01", "--json"))["quiet_horizon"] is False
    assert json.loads(kith("eval", "--as-of", (newest - timedelta(days=90)).isoformat(), "--json"))["horizon_complete"]


def test_a_horizon_is_complete_only_once_its_last_day_is_over(sample):
    from daemon.analysis import horizon_complete, today_for
    config = load(sample[1])
    today = today_for(config)
    assert horizon_complete(config, today - timedelta(days=31), 30)       # the horizon ended yesterday
    assert not horizon_complete(config, today - timedelta(days=30), 30)   # it ends tonight


# 5. Goal weights -----------------------------------------------------------------------------------------------


GOALS_CONFIG = """
[user]
addresses = ["me@home.example"]
timezone = "UTC"
[[goals]]
name = "Fintech"
domains = ["finlytics.example"]
weight = {fintech}
[[goals]]
name = "Team"
domains = ["northwind.example"]
weight = {team}
"""


def test_goal_weights_decide_between_a_strong_contact_and_a_weaker_relevant_one(db):
    me = Address("me@home.example")
    colleague, prospect = Address("ben@northwind.example", "Ben"), Address("anna@finlytics.example", "Anna")
    start = datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("UTC"))
    n = iter(range(1, 10_000))
    mail = []
    for person, every, count in ((colleague, 2, 30), (prospect, 12, 5)):
        for i in range(count):
            at = start + timedelta(days=every * i)
            mail += [message(next(n), sender=me, to=(person,), subject=f"Topic {i}", at=at),
                     message(next(n), sender=person, to=(me,), subject=f"Re: Topic {i}", at=at + timedelta(hours=3))]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    store.refresh_own_addresses(db, [me.email])
    today = date(2026, 3, 3)

    def scores(fintech, team):
        config = parse(GOALS_CONFIG.format(fintech=fintech, team=team), Path("/tmp/kith-goals.toml"))
        s = analyse(db, config, today).scores
        return s[colleague.email], s[prospect.email]

    strong, relevant = scores(fintech=3.0, team=0.5)
    assert strong.value >= relevant.value and relevant.priority > strong.priority
    strong, relevant = scores(fintech=0.5, team=3.0)
    assert strong.priority > relevant.priority
    without_goals = analyse(db, parse(GOALS_CONFIG.split("[[goals]]")[0], Path("/tmp/kith-goals.toml")), today).scores
    assert all(s.priority == s.value and s.goal_factor == 1.0 for s in without_goals.values())   # not value × 0.5


# 6. No false noise ---------------------------------------------------------------------------------------------


def test_nobody_the_user_wrote_to_twice_is_noise_however_robotic(db):
    me = Address("me@home.example")
    robot, lister = Address("noreply@shop.example"), Address("poster@forum.example")   # posts via a list
    n = iter(range(1, 1000))
    start = datetime(2026, 2, 1, 9, tzinfo=ZoneInfo("UTC"))
    mail = [message(next(n), sender=robot, to=(me,), bulk=True, at=start + timedelta(days=i)) for i in range(30)]
    mail += [message(next(n), sender=lister, to=(me,), bulk=True, list_id="team.lists.example",
                     at=start + timedelta(days=i, hours=2)) for i in range(30)]
    mail += [message(next(n), sender=me, to=(p,), at=start + timedelta(days=d))
             for p in (robot, lister) for d in (5, 9)]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    store.refresh_own_addresses(db, [me.email])
    config = parse(LABEL_CONFIG, Path("/tmp/kith-noise.toml"))
    scores = analyse(db, config, date(2026, 3, 3)).scores
    assert not scores[robot.email].noise and not scores[lister.email].noise
    assert me.email not in scores


def test_one_answer_to_a_workflow_or_a_confirmation_robot_makes_no_tie(db):
    """Approving a request by replying to "arsystem@", or confirming an account to "confirm_4_…@": noise still,
    with no owed reply; a person answered once is a tie."""
    me, person = Address("me@home.example"), Address("anna@vendor.example")
    workflow, confirm = Address("arsystem@mailman.corp.example"), Address("confirm_4_7ee084c2_me@mail.aol.example")
    start = datetime(2026, 2, 1, 9, tzinfo=ZoneInfo("UTC"))
    mail = []
    for i, who in enumerate((workflow, confirm, person)):
        mail += [message(10 * i + 1, sender=who, to=(me,), subject=f"Request {i}", at=start),
                 message(10 * i + 2, sender=me, to=(who,), subject=f"Re: Request {i}", at=start + timedelta(hours=1)),
                 message(10 * i + 3, sender=who, to=(me,), subject=f"Request Submitted {i}", at=start + timedelta(days=5))]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    store.refresh_own_addresses(db, [me.email])
    analysis = analyse(db, parse(LABEL_CONFIG, Path("/tmp/kith-noise.toml")), date(2026, 2, 8))
    for robot in (workflow, confirm):
        assert analysis.scores[robot.email].noise_reason == "an automated sender (no-reply address)"
    assert not analysis.scores[person.email].noise
    assert [t.subject for t in analysis.facts[person.email].replies_owed] == ["Request Submitted 2"]


def test_a_person_whose_address_looks_automated_is_no_noise_once_met(db):
    """anna.bot@ (Bot is a surname): one exchange and a one-to-one meeting make a tie; an inbox with 25
    senders and no mail of the user's yet (an inbox-only account) is judged without a failure."""
    me, anna = Address("me@home.example"), Address("anna.bot@vendor.example")
    start = datetime(2026, 2, 1, 9, tzinfo=ZoneInfo("UTC"))
    mail = [message(1, sender=me, to=(anna,), subject="Deck", at=start),
            message(2, sender=anna, to=(me,), subject="Re: Deck", at=start + timedelta(hours=2))]
    mail += [message(10 + i, sender=Address(f"p{i}@x.example"), to=(me,), at=start + timedelta(days=i % 7))
             for i in range(25)]
    store.apply_batch(db, "t", Batch(messages=tuple(mail), events=(event("m", start=start + timedelta(days=2),
                                                                        attendees=[(me, "ACCEPTED"), (anna, "ACCEPTED")]),)))
    store.refresh_own_addresses(db, [me.email])
    assert not analyse(db, parse(LABEL_CONFIG, Path("/tmp/kith-noise.toml")), date(2026, 2, 10)).scores[anna.email].noise
    inbox_only = store.empty_store()
    store.apply_batch(inbox_only, "t", Batch(messages=tuple(mail[2:])))
    store.refresh_own_addresses(inbox_only, [me.email])
    scores = analyse(inbox_only, parse(LABEL_CONFIG, Path("/tmp/kith-noise.toml")), date(2026, 2, 10)).scores
    assert len(scores) == 25 and all(0.0 <= s.value < 1.0 for s in scores.values())


def test_a_colleague_who_writes_directly_is_not_noise_however_rarely_answered(db):
    me = Address("me@home.example")
    colleague, outsider, subsidiary = (Address("kim@home.example"), Address("pitch@vendor.example"),
                                       Address("ana@lab.home.example"))
    start = datetime(2026, 2, 1, 9, tzinfo=ZoneInfo("UTC"))
    mail = [message(10 * i + k, sender=who, to=(me,), at=start + timedelta(days=i, hours=k))
            for i in range(6) for k, who in enumerate((colleague, outsider, subsidiary))]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    store.refresh_own_addresses(db, [me.email])
    scores = analyse(db, parse(LABEL_CONFIG, Path("/tmp/kith-noise.toml")), date(2026, 2, 10)).scores
    assert scores[outsider.email].noise_reason == "wrote 6 times and you never answered"
    assert not scores[colleague.email].noise and not scores[subsidiary.email].noise

def test_a_strangers_unanswered_one_off_is_noise_after_a_month_a_colleagues_is_a_weak_tie(db):
    me = Address("me@home.example")
    colleague, stranger = Address("kim@home.example"), Address("pitch@vendor.example")
    at = datetime(2026, 2, 1, 9, tzinfo=ZoneInfo("UTC"))
    mail = [message(1, sender=colleague, to=(me,), at=at), message(2, sender=stranger, to=(me,), at=at)]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    store.refresh_own_addresses(db, [me.email])
    config = parse(LABEL_CONFIG, Path("/tmp/kith-noise.toml"))
    fresh = analyse(db, config, date(2026, 2, 20)).scores
    assert not fresh[stranger.email].noise and not fresh[colleague.email].noise      # still new
    later = analyse(db, config, date(2026, 3, 10)).scores
    assert later[stranger.email].noise_reason == "a one-off sender you never answered"
    assert not later[colleague.email].noise and later[colleague.email].state != "noise"



def test_free_mail_is_nobodys_organisation():
    from daemon.contacts import in_organisations, organisations
    domains = organisations({"sam@gmail.com", "sam.keller@northwind.example"})
    assert domains == {"northwind.example"}
    assert in_organisations("a@eu.northwind.example", domains) and not in_organisations("a@gmail.com", domains)
    assert not in_organisations("a@notnorthwind.example", domains)


def test_eval_judges_noise_as_the_daemon_did_on_the_date(db):
    """A stranger's unanswered mail is noise on the date (value 0 in eval, as in the digest), even though the
    user answers it later: the flag looks only before the date."""
    me, stranger, friend = Address("me@home.example"), Address("sam@far.example"), Address("kai@near.example")
    day = lambda n: datetime(2026, 3, 1, 10, tzinfo=ZoneInfo("UTC")) + timedelta(days=n)  # noqa: E731
    mail = [message(1, sender=stranger, to=(me,), at=day(-40)),
            message(2, sender=me, to=(friend,), at=day(-20)), message(3, sender=friend, to=(me,), at=day(-19)),
            message(4, sender=me, to=(stranger,), at=day(5)), message(5, sender=stranger, to=(me,), at=day(6))]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    store.refresh_own_addresses(db, [me.email])
    config = parse(LABEL_CONFIG, Path("/tmp/kith-eval-noise.toml"))
    from daemon.analysis import evaluation_touches
    from models.evaluate import judge
    touches, cutoff, noise = evaluation_touches(db, config, date(2026, 3, 1), 30)
    flagged = dict(zip(touches.ids, noise))
    assert flagged == {stranger.email: True, friend.email: False}
    assert not analyse(db, config, date(2026, 3, 10)).scores[stranger.email].noise   # answered by then
    judged = judge(touches, cutoff, 30.0, noise)
    from models.features import features_at
    judged_ids = [cid for cid, known in zip(touches.ids, features_at(touches, cutoff)[1]) if known]
    assert judged.scores["model"][judged_ids.index(stranger.email)] == 0.0
    assert judged.labels[judged_ids.index(stranger.email)]


def test_mailing_lists_are_not_contacts_but_the_people_posting_to_them_are(db):
    me, poster = Address("me@home.example"), Address("ana@poster.example", "Ana Poster")
    dev, kernel, owner = (Address("dev@lists.project.example"), Address("linux-kernel@vger.kernel.org"),
                          Address("owner-news@firm.example"))
    named_by_list_id = Address("team@project.example")            # its List-Id is team.project.example
    day = lambda n: datetime(2026, 3, 1, 10, tzinfo=ZoneInfo("UTC")) + timedelta(days=n)  # noqa: E731
    mail = [message(i, sender=me, to=(dev, kernel, named_by_list_id, owner, poster), subject=f"Patch {i}",
                    at=day(-30 + i)) for i in range(3)]
    mail += [message(10 + i, sender=poster, to=(named_by_list_id,), cc=(me,), subject=f"Re: Patch {i}", bulk=True,
                     list_id="team.project.example", at=day(-29 + i)) for i in range(3)]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    store.refresh_own_addresses(db, [me.email])
    scores = analyse(db, parse(LABEL_CONFIG, Path("/tmp/kith-lists.toml")), date(2026, 3, 1)).scores
    assert set(scores) == {poster.email} and not scores[poster.email].noise


def test_a_list_reply_that_names_the_user_is_personal_but_a_newsletter_is_not(db):
    me, dev_list = Address("me@home.example"), Address("dev@lists.project.example")
    reviewer, newsletter = Address("rita@review.example", "Rita Review"), Address("editor@weekly.example", "Weekly")
    day = lambda n: datetime(2026, 3, 1, 10, tzinfo=ZoneInfo("UTC")) + timedelta(days=n)  # noqa: E731
    mail = [message(1, sender=me, to=(dev_list,), subject="[PATCH] fix the frobnicator", at=day(-10)),
            message(2, sender=reviewer, to=(me,), cc=(dev_list,), subject="Re: [PATCH] fix the frobnicator",
                    bulk=True, list_id="dev.lists.project.example", at=day(-9)),
            message(3, sender=me, to=(reviewer, dev_list), subject="Re: [PATCH] fix the frobnicator", at=day(-8))]
    mail += [message(10 + i, sender=newsletter, to=(me,), subject=f"Issue {i}", bulk=True,
                     list_id="weekly.letters.example", at=day(-40 + 7 * i)) for i in range(5)]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    store.refresh_own_addresses(db, [me.email])
    analysis = analyse(db, parse(LABEL_CONFIG, Path("/tmp/kith-list-reply.toml")), date(2026, 3, 1))
    rita = analysis.facts[reviewer.email]
    assert (rita.received_personal, rita.received_bulk, rita.two_way_threads) == (1, 0, 1)
    assert analysis.scores[newsletter.email].noise_reason == "mailing-list or bulk mail only"
    assert dev_list.email not in analysis.facts


# The pieces of the judgment -----------------------------------------------------------------------------------


def test_standing_breaks_ties_by_the_next_key_and_shares_exact_ties():
    from models.learn import standing
    first = np.array([0.0, 0.0, 0.0, 2.0, 1.0])
    second = np.array([5.0, 1.0, 1.0, 0.0, 0.0])
    assert standing(first, second).tolist() == [0.6, 0.3, 0.3, 1.0, 0.8]


def test_the_stacker_never_turns_a_ranking_upside_down():
    from models.learn import NonNegativeLogistic
    rng = np.random.RandomState(0)
    y = rng.rand(400) < 0.2
    helpful = np.where(y, rng.rand(400) * 0.5 + 0.5, rng.rand(400))
    misleading = np.where(y, rng.rand(400) * 0.3, rng.rand(400))      # positives rank low on this one
    stacker = NonNegativeLogistic().fit(np.column_stack([helpful, misleading]), y)
    assert stacker.coef_[0] > 1.0 and stacker.coef_[1] == 0.0
    p = stacker.predict_proba(np.array([[0.9, 0.5], [0.1, 0.5]]))[:, 1]
    assert p[0] > p[1] and 0.0 < p[1] < p[0] < 1.0


def test_the_stacker_leaves_equal_weights_only_as_far_as_the_evidence_goes():
    from models.learn import NonNegativeLogistic
    rng = np.random.RandomState(0)
    z = rng.rand(40, 3)
    unrelated = rng.rand(40) < 0.15                                  # a small moment that tells nothing
    drawn_to_equal = NonNegativeLogistic(prior=1.0).fit(z, unrelated).coef_
    drawn_to_zero = NonNegativeLogistic().fit(z, unrelated).coef_
    assert np.all(drawn_to_equal > drawn_to_zero) and np.all(np.abs(drawn_to_equal - 1.0) < 0.6)
    z = rng.rand(300, 3)
    told = NonNegativeLogistic(prior=1.0).fit(z, z[:, 0] > 0.85).coef_  # a moment where only the first one tells
    assert told[0] > 3.0 and told[0] > 3 * max(told[1:])


def test_without_a_moment_to_weigh_them_every_ranking_counts_the_same():
    from models.learn import RANKINGS, HeuristicModel, NonNegativeLogistic, _prior, _stacker
    assert _stacker([], np.empty((0, 1)), np.empty(0, dtype=bool)) is None   # no moment whose outcome is known
    from models.features import FEATURES
    from models.learn import rankings
    column = {name: i for i, name in enumerate(FEATURES)}
    now = np.zeros((40, len(FEATURES)))             # the contacts known now, no outcome yet: five two-way ties …
    now[:, column["days_since_contact"]] = np.arange(40)
    now[:, column["received"]] = 2                  # … and 35 one-way senders
    now[:5, column["sent"]], now[:5, column["two_way_threads"]] = 6, 3
    stacker = _prior(HeuristicModel(), [], now)
    assert stacker.coef_.tolist() == [1.0] * len(RANKINGS)
    p = stacker.predict_proba(np.array([[0.5] * len(RANKINGS), [1.0] * len(RANKINGS), [0.0] * len(RANKINGS)]))[:, 1]
    assert p[1] > p[0] > p[2] and isinstance(stacker, NonNegativeLogistic)
    # the level is the heuristic's absolute one, not "the first by every standing is 0.95": in a new mailbox,
    # one-way senders are not valuable
    values = stacker.predict_proba(rankings(HeuristicModel().predict_proba(now)[:, 1], now))[:, 1]
    assert values.mean() == pytest.approx(HeuristicModel().predict_proba(now)[:, 1].mean())
    assert values[5:].max() < 0.3 < values[:5].min()


def test_equal_weights_take_their_level_from_the_latest_known_moment():
    from models.learn import NonNegativeLogistic
    z = np.random.RandomState(1).rand(200, 6)
    silent = NonNegativeLogistic.equal(6).calibrate(z, np.zeros(200, dtype=bool))
    busy = NonNegativeLogistic.equal(6).calibrate(z, np.arange(200) < 60)
    top = np.ones((1, 6))
    assert silent.predict_proba(z)[:, 1].mean() == pytest.approx(3 / 250)     # 6% of 50 contacts beside 200
    assert busy.predict_proba(z)[:, 1].mean() == pytest.approx(63 / 250)
    assert silent.predict_proba(top)[0, 1] < 0.3 < busy.predict_proba(top)[0, 1]     # below VALUABLE
    assert silent.coef_.tolist() == busy.coef_.tolist() == [1.0] * 6    # the order stays the prior's
    # a new mailbox's moment of ten contacts, six of which went both ways, says little about the level
    few = NonNegativeLogistic.equal(6).calibrate(z[:10], np.arange(10) < 6)
    assert few.predict_proba(z[:10])[:, 1].mean() == pytest.approx(9 / 60)


def test_values_sink_during_months_of_silence_and_never_jump_back(tmp_path):
    """The sample's mail ends in March 2026, judged later as an archive: once the latest moment whose outcome
    is known holds no two-way mail, standings alone would put the first contact back at 0.95."""
    _, config = sample_kith(tmp_path)
    db = store.open_store(load(config).database_path)
    values = []
    for day in ("2026-03-03", "2026-05-01", "2026-06-15", "2026-09-01", "2026-11-24"):
        analysis = analyse(db, load(config), date.fromisoformat(day))
        values.append(max(s.value for s in analysis.scores.values()))
    assert values[0] > 0.8
    assert all(later <= earlier + 0.02 for earlier, later in zip(values, values[1:])), values
    assert values[-1] < VALUABLE / 2, values        # the best tie of a silent archive is far from worth a step


def test_with_too_little_history_to_learn_eval_measures_what_the_daemon_uses(db):
    from dataclasses import replace
    me = Address("me@home.example")
    as_of = date(2026, 3, 1)
    day = lambda n: datetime(2026, 3, 2, 10, tzinfo=ZoneInfo("UTC")) + timedelta(days=n)  # noqa: E731
    old_friends = [Address(f"friend{i}@example.org") for i in (1, 2)]       # many threads both ways, weeks ago
    acquaintances = [Address(f"once{i}@example.org") for i in (1, 2)]       # one exchange, yesterday
    n = iter(range(1, 1000))
    mail = []
    for person in old_friends:
        for k in range(4):
            ask = message(next(n), sender=me, to=(person,), at=day(-50 + k))
            mail += [ask, replace(message(next(n), sender=person, to=(me,), at=day(-50 + k) + timedelta(hours=2)),
                                  thread_key=ask.thread_key)]
    for person in acquaintances:
        ask = message(next(n), sender=person, to=(me,), at=day(-2))
        mail += [ask, replace(message(next(n), sender=me, to=(person,), at=day(-2) + timedelta(hours=1)),
                              thread_key=ask.thread_key)]
    for person in old_friends:                                               # the future: friends write again
        mail += [message(next(n), sender=me, to=(person,), at=day(5)), message(next(n), sender=person, to=(me,), at=day(6))]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    store.refresh_own_addresses(db, [me.email])
    config = parse(LABEL_CONFIG, Path("/tmp/kith-heuristic.toml"))

    result = evaluate_store(db, config, as_of, 30)
    assert result.training_rows == 0 and result.positives == 2
    # among four contacts the heuristic alone judges: it ranks the old friends first (two-way threads), while
    # decayed volume favours yesterday's exchange
    assert result.results["model"].roc_auc == 1.0 and result.results["decayed_two_way"].roc_auc == 0.0
    scores = analyse(db, config, as_of).scores
    value = {cid: s.value for cid, s in scores.items()}
    assert min(value[p.email] for p in old_friends) > max(value[p.email] for p in acquaintances)


def test_with_too_little_history_to_learn_the_heuristic_takes_the_learned_models_place(db):
    from models.features import features_at
    from models.learn import MIN_CROWD, RANKINGS, HeuristicModel, Judge, NonNegativeLogistic
    me, people = Address("me@home.example"), [Address(f"p{i:02}@example.org") for i in range(MIN_CROWD + 4)]
    day = lambda n: datetime(2026, 3, 1, 10, tzinfo=ZoneInfo("UTC")) + timedelta(days=n)  # noqa: E731
    n = iter(range(1, 1000))
    mail = [m for i, person in enumerate(people) for k in range(i + 1)
            for m in (message(next(n), sender=me, to=(person,), at=day(-60 + k + i)),
                      message(next(n), sender=person, to=(me,), at=day(-60 + k + i) + timedelta(hours=1)))]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    store.refresh_own_addresses(db, [me.email])
    touches, now = collect(load_facts(db, {me.email}, day(0))), to_days(day(0))
    prediction = fit_predict(touches, now)
    assert prediction.training.rows == 0 and list(prediction.training.weights.values()) == [1.0] * len(RANKINGS)
    x, known = features_at(touches, now)
    stand_in = Judge(HeuristicModel(), NonNegativeLogistic.equal(len(RANKINGS))).score(x[known])
    # the stand-in's order, at the heuristic's own level: every one of these ties went both ways
    assert (np.argsort(prediction.now[known], kind="stable") == np.argsort(stand_in, kind="stable")).all()
    heuristic = HeuristicModel().predict_proba(x[known])[:, 1]
    assert prediction.now[known].mean() == pytest.approx(heuristic.mean())
    assert np.argmax(prediction.now) == touches.ids.index(people[-1].email)   # most mail both ways, latest
    assert not np.allclose(prediction.now[known], HeuristicModel().predict_proba(x[known])[:, 1])


def test_among_a_handful_of_contacts_the_heuristic_judges_alone(db):
    """Two contacts a day apart would be first and last by every ranking: their values stay close."""
    from models.features import features_at
    from models.learn import HeuristicModel
    me, mira, jonas = Address("me@home.example"), Address("mira@example.org"), Address("jonas@example.org")
    day = lambda n: datetime(2026, 3, 1, 10, tzinfo=ZoneInfo("UTC")) + timedelta(days=n)  # noqa: E731
    mail = []
    for i, person in enumerate((mira, jonas)):
        for k in range(6):
            at = day(-60 + 10 * k + i)
            mail += [message(100 * i + 2 * k, sender=me, to=(person,), at=at),
                     message(100 * i + 2 * k + 1, sender=person, to=(me,), at=at + timedelta(hours=1))]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    touches = collect(load_facts(db, {me.email}, day(0)))
    x, _ = features_at(touches, to_days(day(0)))
    prediction = fit_predict(touches, to_days(day(0)))
    assert np.allclose(prediction.now, HeuristicModel().predict_proba(x)[:, 1])
    assert abs(prediction.now[0] - prediction.now[1]) < 0.05


def test_chance_of_leading_is_sure_only_when_the_lead_is_clear():
    from models.evaluate import Judged, chance_of_leading
    rng = np.random.RandomState(0)
    y = np.zeros(300, dtype=bool)
    y[:30] = True
    perfect, coin = y + rng.rand(300) * 0.5, rng.rand(300)
    assert chance_of_leading(Judged(y, {"model": perfect, "recency": coin}, 0), rounds=100) == 1.0
    assert chance_of_leading(Judged(y, {"model": coin, "recency": perfect}, 0), rounds=100) == 0.0
    assert chance_of_leading(Judged(y, {"model": coin, "recency": coin.copy()}, 0), rounds=100) == 0.0  # ties lose
    few = np.zeros(300, dtype=bool)
    few[:2] = True                              # two positives: one place more or less decides
    model, recency = 0.5 * few + rng.rand(300), 0.5 * few + rng.rand(300)    # equally good, independent
    assert 0.05 < chance_of_leading(Judged(few, {"model": model, "recency": recency}, 0), rounds=200) < 0.95


def test_the_months_exchange_counts_much_mail_one_way_with_a_little_back():
    from models.features import FEATURES
    from models.learn import RANKINGS, rankings
    x = np.zeros((3, len(FEATURES)))
    column = {name: i for i, name in enumerate(FEATURES)}
    for row, (sent, received) in enumerate([(10.0, 0.1), (0.1, 0.1), (0.0, 0.0)]):
        x[row, column["decayed_sent_30"]], x[row, column["decayed_received_30"]] = sent, received
        x[row, column["decayed_two_way_30"]] = min(sent, received)
    standings = dict(zip(RANKINGS, rankings(np.zeros(3), x).T))
    exchange, two_way = standings["exchange_30"], standings["decayed_two_way_30"]
    assert exchange[0] > exchange[1] > exchange[2]
    assert two_way[0] > two_way[1] > two_way[2]          # there only thanks to the one-way tie-break


def test_eval_before_any_mail_says_why_there_are_no_scores_and_keeps_json_valid(sample):
    kith, _ = sample
    data = json.loads(kith("eval", "--as-of", "2020-01-01", "--json"), parse_constant=lambda c: pytest.fail(c))
    assert data["contacts"] == 0 and data["results"]["model"] == {
        "roc_auc": None, "average_precision": None, "precision_at_20": None}
    assert data["model_leads_chance"] is None
    assert "No scores: they need contacts with and without" in kith("eval", "--as-of", "2020-01-01")


def test_eval_on_an_empty_store_says_to_sync_first(tmp_path):
    config = tmp_path / "empty.toml"
    config.write_text(f'[user]\naddresses = ["me@example.org"]\n[storage]\ndatabase = "{tmp_path / "k.db"}"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "eval"])
    assert getattr(result.exception, "exit_code", None) == 2      # `kith` exits 2 with that one line (see test_cli)
    assert "the store holds no mail yet — run `kith sync` first" in str(result.exception)


def test_sharing_threads_with_a_strong_contact_counts_only_once_that_contact_is_strong(db):
    me, close, newcomer, stranger = (Address(f"{n}@example.org") for n in ("me", "close", "newcomer", "stranger"))
    day = lambda n: datetime(2026, 3, 1, 10, tzinfo=ZoneInfo("UTC")) + timedelta(days=n)  # noqa: E731
    mail = [message(1, sender=me, to=(close,), subject="Budget", at=day(-30)),
            message(2, sender=close, to=(me,), subject="Re: Budget", at=day(-29)),
            message(3, sender=me, to=(close, newcomer), subject="Offsite", at=day(-25)),
            message(4, sender=me, to=(stranger,), subject="Invoice", at=day(-24)),
            message(5, sender=close, to=(me,), subject="Plan", at=day(-20)),
            message(6, sender=newcomer, to=(me,), subject="Re: Offsite", at=day(-15))]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    store.refresh_own_addresses(db, [me.email])
    from models.features import FEATURES, features_at
    touches = collect(load_facts(db, {me.email}, day(0)))
    row = {cid: i for i, cid in enumerate(touches.ids)}
    shared = lambda when: {who.email: features_at(touches, to_days(when))[0][row[who.email],  # noqa: E731
                                                                            FEATURES.index("threads_with_strong")]
                           for who in (close, newcomer, stranger)}
    # before "Plan", close has written back only once: not yet a strong contact
    assert shared(day(-22)) == {close.email: 0, newcomer.email: 0, stranger.email: 0}
    assert shared(day(0)) == {close.email: 0, newcomer.email: 1, stranger.email: 0}


def test_explain_names_the_close_contacts_someone_shares_threads_with(db):
    from daemon.report import explain_contact
    me = Address("me@home.example")
    close, newcomer, acquaintance = (Address(f"{n.split()[0].lower()}@example.org", n)
                                     for n in ("Clara Close", "Nina New", "Aldo Acquaintance"))
    day = lambda n: datetime(2026, 3, 1, 10, tzinfo=ZoneInfo("UTC")) + timedelta(days=n)  # noqa: E731
    mail = [message(1, sender=me, to=(close,), subject="Budget", at=day(-30)),
            message(2, sender=close, to=(me,), subject="Re: Budget", at=day(-29)),
            message(3, sender=me, to=(close,), subject="Plan", at=day(-20)),
            message(4, sender=close, to=(me,), subject="Re: Plan", at=day(-19)),
            message(5, sender=me, to=(close, newcomer, acquaintance), subject="Offsite", at=day(-10))]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    store.refresh_own_addresses(db, [me.email])
    config = parse(LABEL_CONFIG, Path("/tmp/kith-explain.toml"))
    analysis = analyse(db, config, date(2026, 3, 1))
    facts = explain_contact(analysis, config, newcomer.email)["facts"]
    assert "in threads or meetings with 1 close contact of yours: Clara Close" in facts
    assert not any("close contact" in fact for fact in explain_contact(analysis, config, close.email)["facts"])


def test_per_contact_sums_skip_contacts_without_touches():
    from dataclasses import fields
    from models.features import _count, _last
    from models.touches import Touches
    contact, t = np.array([0, 0, 2], dtype=np.int32), np.array([1.0, 5.0, 3.0])
    columns = {f.name: np.zeros(3) for f in fields(Touches)}
    touches = Touches(**{**columns, "ids": ["a", "b", "c", "d"], "contact": contact, "t": t, "static": {}})
    everything = np.ones(3, dtype=bool)
    assert _count(touches, everything).tolist() == [2.0, 0.0, 1.0, 0.0]       # b and d have no touches
    assert _last(touches, everything, default=-1.0).tolist() == [5.0, -1.0, 3.0, -1.0]
    assert _count(touches, np.array([False, True, False])).tolist() == [1.0, 0.0, 0.0, 0.0]


def test_a_sender_of_receipts_and_confirmations_only_is_noise(db):
    """A booking site's accthelp@ sent flight purchase confirmations and nothing else (review 23: it was
    "valuable"): noise; a person who once sent a receipt among other mail is not."""
    me = Address("me@home.example")
    robot, person = Address("accthelp@travel.example"), Address("anna@vendor.example")
    start = datetime(2026, 2, 1, 9, tzinfo=ZoneInfo("UTC"))
    mail = [message(i, sender=robot, to=(me,), subject=f"Flight purchase confirmation {i}",
                    at=start + timedelta(days=i)) for i in range(3)]
    mail += [message(10, sender=person, to=(me,), subject="Receipt for the workshop", at=start),
             message(11, sender=person, to=(me,), subject="Agenda for Tuesday", at=start + timedelta(days=1))]
    store.apply_batch(db, "t", Batch(messages=tuple(mail)))
    store.refresh_own_addresses(db, [me.email])
    analysis = analyse(db, parse(LABEL_CONFIG, Path("/tmp/kith-receipts.toml")), date(2026, 2, 5))
    assert analysis.scores[robot.email].noise_reason == "receipts, confirmations and notices only, never written to"
    assert analysis.scores[person.email].noise_reason is None
