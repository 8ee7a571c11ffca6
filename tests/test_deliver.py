"""Delivery of the day's digest to the user's own mailboxes: each mailbox once per day, recorded as soon as the
digest landed there, whatever the user did with it since and whichever other mailbox failed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from daemon.analysis import Digest
from daemon.config import parse
from daemon.deliver import deliver, delivered_mailboxes
from daemon.deliver_gmail import insert_digest
from daemon.deliver_outlook import create_digest
from daemon.errors import AuthError
from tests.fakes import fake_graph
from tests.fakes.fake_gmail import FakeGoogle, google_config
from tests.fakes.fake_gmail import sign_in as google_sign_in

DAY = date(2026, 1, 6)
NOW = datetime(2026, 1, 6, 6, 30, tzinfo=UTC)


def empty_digest(day: date = DAY) -> Digest:
    return Digest(day, "Me", [], {}, None, [])


def copies(fake: FakeGoogle) -> list:
    """The digests in the fake Gmail mailbox, wherever they are (inbox, archived)."""
    return [m for m in fake.messages.values() if ("X-Kith-Digest", "1") in m.header_list()]


def inserts(fake: FakeGoogle) -> int:
    return sum(1 for method, uri in fake.calls if method == "POST" and uri.startswith("/gmail/v1/users/me/messages"))


def undelivered(db, day: date = DAY) -> None:
    """As a kill left it after the mailboxes and before the day was marked delivered."""
    db.execute("UPDATE digests SET delivered_at = NULL WHERE date = ?", [day.isoformat()])


@pytest.fixture
def google():
    with FakeGoogle(require_auth=True) as server:
        server.add_message(subject="Hello")
        yield server


@pytest.fixture
def gmail_config(google, tmp_path):
    config = google_config(google, tmp_path, deliver=("file", "gmail"))
    google_sign_in(google, config)
    return config


@pytest.mark.parametrize("since", ["archived", "30 newer mails"])
def test_a_retry_after_the_digest_was_archived_or_pushed_down_inserts_no_second_copy(db, tmp_path, google,
                                                                                     gmail_config, since):
    first = deliver(db, empty_digest(), tmp_path / "digests", NOW, config=gmail_config)
    (digest,) = copies(google)
    assert first.kept == [] and delivered_mailboxes(db, DAY) == {"gmail:me": digest.id}
    if since == "archived":
        google.relabel(digest.id, remove=("INBOX",))
    else:
        for i in range(30):
            google.add_message(subject=f"newer {i}", at=datetime(2026, 1, 6, 8, i, tzinfo=UTC))
    undelivered(db)
    again = deliver(db, empty_digest(), tmp_path / "digests", NOW, config=gmail_config)
    assert (len(copies(google)), inserts(google)) == (1, 1)
    assert again.kept == ["gmail:me"] and not again.already


def test_a_kill_between_the_insert_and_its_record_is_caught_by_the_look_in_the_inbox(db, tmp_path, google,
                                                                                     gmail_config):
    landed = insert_digest(gmail_config.sources[0], gmail_config, DAY, "Kith", "text", "<p>html</p>", now=NOW)
    assert delivered_mailboxes(db, DAY) == {}                     # killed before it was recorded
    deliver(db, empty_digest(), tmp_path / "digests", NOW, config=gmail_config)
    assert (len(copies(google)), inserts(google)) == (1, 1)
    assert delivered_mailboxes(db, DAY) == {"gmail:me": landed}   # found, and recorded now


def test_gmail_is_not_inserted_again_while_outlook_keeps_failing(db, tmp_path, google, gmail_config, monkeypatch):
    """deliver = ["file", "gmail", "outlook"] before Mail.ReadWrite was granted: each retry of the day used to
    repeat the Gmail insert. The Gmail copy is recorded at once, so the retries only try Outlook again."""
    with fake_graph.FakeGraph(tmp_path / "graph") as graph:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", graph.ca_file)      # MSAL's and Graph's own session trust it
        reading = fake_graph.graph_config(graph, tmp_path)
        fake_graph.sign_in(graph, reading)                            # Mail.ReadBasic only, not yet ReadWrite
        text = gmail_config.path.read_text().replace('deliver = ["file", "gmail"]',
                                                     'deliver = ["file", "gmail", "outlook"]')
        text += "\n".join(["[[sources]]", 'type = "outlook"', 'name = "work"', f'client_id = "{graph.client_id}"',
                           f'authority = "{graph.authority}"', f'graph_endpoint = "{graph.url}"',
                           f"token_cache = {json.dumps(str(tmp_path / 'msal-work.bin'))}", ""])
        config = parse(text, gmail_config.path)
        for _ in range(3):
            with pytest.raises(AuthError, match="Mail.ReadWrite"):
                deliver(db, empty_digest(), tmp_path / "digests", NOW, config=config)
        assert (len(copies(google)), inserts(google)) == (1, 1)
        assert list(delivered_mailboxes(db, DAY)) == ["gmail:me"]
        fake_graph.sign_in(graph, fake_graph.graph_config(graph, tmp_path, deliver=("file", "outlook")))
        done = deliver(db, empty_digest(), tmp_path / "digests", NOW, config=config)
        assert done.kept == ["gmail:me"] and sorted(delivered_mailboxes(db, DAY)) == ["gmail:me", "outlook:work"]
        assert (len(copies(google)), len(graph.folder("inbox").messages)) == (1, 1)
        assert db.execute("SELECT delivered_at FROM digests").fetchone()[0] is not None


def test_outlook_finds_a_digest_the_user_moved_out_of_the_inbox(tmp_path):
    """A kill between creating the digest and recording it, and the user moved it to another folder meanwhile:
    the look covers the whole mailbox, so no second copy is created."""
    with fake_graph.FakeGraph(tmp_path / "graph") as graph:
        config = fake_graph.graph_config(graph, tmp_path, deliver=("file", "outlook"))
        fake_graph.sign_in(graph, config)
        make = lambda: create_digest(config.sources[0], config, DAY, "Kith", "x", "<p>x</p>",  # noqa: E731
                                     http_client=graph.session())
        first = make()
        graph.move_message(first, "inbox", "archive")
        assert make() == first
        posts = [r for r in graph.requests if r.method == "POST" and r.path.startswith("/v1.0/")]
        assert len(posts) == 1 and graph.folder("inbox").messages == {}


def test_digest_force_renders_again_but_puts_no_second_copy_in_the_inbox(tmp_path, google, gmail_config):
    from click.testing import CliRunner

    from daemon.cli import cli
    text = gmail_config.path.read_text().replace("[digest]\n", f'[digest]\ndirectory = "{tmp_path / "digests"}"\n')
    gmail_config.path.write_text(f'[storage]\ndatabase = "{tmp_path / "kith.db"}"\n' + text)
    kith = lambda *args: CliRunner().invoke(cli, ["--config", str(gmail_config.path), *args])  # noqa: E731
    assert kith("sync").exit_code == 0
    assert kith("digest").exit_code == 0 and len(copies(google)) == 1
    google.relabel(copies(google)[0].id, remove=("INBOX",))          # read and archived
    forced = kith("digest", "--force")
    assert forced.exit_code == 0, forced.output
    assert (len(copies(google)), inserts(google)) == (1, 1)
    assert "is in gmail:me already: not placed there again" in forced.stderr


def test_a_temp_file_left_by_a_kill_mid_write_is_removed_by_the_next_write(db, tmp_path) -> None:
    """`kill -9` during the digest write leaves `.kith-DATE.md.XXXXXXXX.tmp`; the next digest written into the
    folder removes it (any day's), but not a write in progress nor a file that only looks alike."""
    import os
    import time

    folder = tmp_path / "digests"
    folder.mkdir()
    stale = [folder / ".kith-2026-01-05.md.3l3yh3cd.tmp", folder / ".kith-2026-01-06.html.a_b1c2d3.tmp"]
    fresh = folder / ".kith-2026-01-05.md.zz9yy8xx.tmp"              # another process is writing it now
    other = [folder / ".notes.md.3l3yh3cd.tmp", folder / "kith-2026-01-05.md.3l3yh3cd.tmp"]
    for path in [*stale, fresh, *other]:
        path.write_text("half a digest")
    hour_ago = time.time() - 3600
    for path in [*stale, *other]:
        os.utime(path, (hour_ago, hour_ago))
    deliver(db, empty_digest(), folder, NOW)
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted([fresh.name, *(p.name for p in other), "kith-2026-01-06.html", "kith-2026-01-06.md"])


def test_a_written_file_is_made_durable_with_its_folder(tmp_path, monkeypatch) -> None:
    """After the rename, the folder is fsynced: otherwise a power loss can lose the rename while the database
    (WAL, committed) already says the digest was delivered."""
    import os
    import stat

    from daemon import paths
    synced = []
    real = os.fsync

    def spy(fd: int) -> None:
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real(fd)
    monkeypatch.setattr(os, "fsync", spy)
    paths.write_private(tmp_path / "out" / "kith-2026-01-06.md", "text")
    assert synced == [False, True]           # the file's data, then the folder holding the rename


def test_a_replay_hides_no_one_from_todays_digest_but_counts_for_later_replays(db, tmp_path):
    """`kith digest --as-of` last week is read now: today's digest and previews still suggest its people;
    a replay of the next day counts it, as the daemon's digests of those days would have (walkthrough 23)."""
    from daemon.analysis import _recent_suggestions, today_for
    from models.kinds import Suggestion
    config = parse('[user]\ntimezone = "Europe/Berlin"\n', tmp_path / "k.toml")
    today = today_for(config)
    replayed = today - timedelta(days=5)
    tom = Suggestion("reconnect", "tom@x.example", "Tom", None, ("…",), "", 15, 1.0, ("tom@x.example",))
    deliver(db, Digest(replayed, "me", [tom], {}, None, []), tmp_path, replay=True)
    assert _recent_suggestions(db, today, 14, config=config) == {}                       # today's digest
    assert _recent_suggestions(db, today + timedelta(days=2), 14, config=config) == {}   # a preview
    assert _recent_suggestions(db, replayed + timedelta(days=1), 14, config=config) == {"tom@x.example": replayed}


def test_a_digest_written_on_its_day_stays_shown_when_read_again_later(db, tmp_path):
    """Review 24: yesterday's digest went to the folder but its mailbox step failed; `kith digest --as-of
    yesterday` today finishes it: it was shown, and still holds its people back from today's digest."""
    from daemon.analysis import _recent_suggestions, today_for
    from models.kinds import Suggestion
    config = parse('[user]\ntimezone = "Europe/Berlin"\n', tmp_path / "k.toml")
    today = today_for(config)
    yesterday = today - timedelta(days=1)
    tom = Suggestion("reconnect", "tom@x.example", "Tom", None, ("…",), "", 15, 1.0, ("tom@x.example",))
    deliver(db, Digest(yesterday, "me", [tom], {}, None, []), tmp_path)
    db.execute("UPDATE digests SET delivered_at = NULL")             # as if its mailbox had failed
    deliver(db, Digest(yesterday, "me", [tom], {}, None, []), tmp_path, replay=True)
    assert _recent_suggestions(db, today, 14, config=config) == {"tom@x.example": yesterday}


def test_a_replay_interrupted_before_its_files_stays_a_replay(db, tmp_path):
    """Kill hunt: a replay stored, then killed (or the disk full) before its files were written, was kept as
    a digest shown on its day, hiding its people from today's digest. The flag is stored with the digest."""
    from daemon.analysis import _recent_suggestions, today_for
    from daemon.errors import KithError
    from models.kinds import Suggestion
    config = parse('[user]\ntimezone = "Europe/Berlin"\n', tmp_path / "k.toml")
    today = today_for(config)
    tom = Suggestion("reconnect", "tom@x.example", "Tom", None, ("…",), "", 15, 1.0, ("tom@x.example",))
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    with pytest.raises((KithError, OSError)):
        deliver(db, Digest(today - timedelta(days=1), "me", [tom], {}, None, []), blocked, replay=True)
    assert db.execute("SELECT replay, path FROM digests").fetchall() == [(1, None)]
    deliver(db, Digest(today - timedelta(days=1), "me", [tom], {}, None, []), tmp_path, replay=True)
    assert db.execute("SELECT replay FROM digests").fetchall() == [(1,)]
    assert _recent_suggestions(db, today, 14, config=config) == {}


def test_a_forced_render_swaps_the_stored_digest_at_once_and_keeps_its_flag(db, tmp_path):
    """`kith digest --force` of a day written on its day: the stored digest is replaced in one transaction
    (a kill before leaves it whole), and it stays a digest shown on its day, whatever `replay` is asked."""
    from models.kinds import Suggestion
    tom = Suggestion("reconnect", "tom@x.example", "Tom", None, ("…",), "", 15, 1.0, ("tom@x.example",))
    ann = Suggestion("reconnect", "ann@x.example", "Ann", None, ("…",), "", 15, 1.0, ("ann@x.example",))
    deliver(db, Digest(DAY, "me", [tom], {}, None, []), tmp_path)
    assert deliver(db, Digest(DAY, "me", [ann], {}, None, []), tmp_path, replay=True).already
    again = deliver(db, Digest(DAY, "me", [ann], {}, None, []), tmp_path, replay=True, replace=True)
    assert not again.already and "Ann" in (tmp_path / "kith-2026-01-06.md").read_text()
    assert db.execute("SELECT replay FROM digests").fetchall() == [(0,)]
    assert db.execute("SELECT address FROM suggestions").fetchall() == [("ann@x.example",)]
