"""A test's own CalDAV account on the test Radicale, the calendar program that fills it, and the Kith source
reading it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import caldav

from connectors.caldav_calendar import CaldavSource, calendar_key
from daemon import config as cfg
from tests.connectors.imap_mailbox import _toml
from tests.contract import BODY_MARKER
from tests.servers import PASSWORD, Radicale

ME = "me@home.example"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def event(uid: str, *, start: str = "20260110T100000Z", end: str = "", summary: str = "Coffee",
          organizer: str = "bob@example.org", attendees: tuple[str, ...] = (ME,), rrule: str = "",
          sequence: int = 0, extra: str = "") -> str:
    """One VEVENT in its VCALENDAR, as a calendar program stores it; the marker hides in its DESCRIPTION."""
    end = end or start[:9] + f"{int(start[9:11]) + 1:02d}" + start[11:]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Kith tests//EN", "BEGIN:VEVENT", f"UID:{uid}",
             "DTSTAMP:20260101T000000Z", f"DTSTART:{start}", f"DTEND:{end}", f"SUMMARY:{summary}",
             f"SEQUENCE:{sequence}", f"DESCRIPTION:{BODY_MARKER} agenda of {uid}", f"ORGANIZER:mailto:{organizer}",
             *[f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{a}" for a in attendees]]
    lines += [f"RRULE:{rrule}"] if rrule else []
    lines += [line for line in extra.splitlines() if line]
    return "\r\n".join(lines + ["END:VEVENT", "END:VCALENDAR", ""])


class Account:
    """One user's calendars: the test writes to them as a calendar program would; Kith only reads them."""

    def __init__(self, server: Radicale, folder: Path, *, user: str = "alice", verify: str | bool = True) -> None:
        self.server, self.folder, self.user = server, folder, server.new_user(user)
        self.client = caldav.DAVClient(server.url, username=user, password=PASSWORD, enable_rfc6764=False,
                                       ssl_verify_cert=verify)
        self.principal = self.client.get_principal()
        self.calendars: dict[str, caldav.Calendar] = {}

    def calendar(self, name: str, cal_id: str | None = None) -> caldav.Calendar:
        """A new calendar; its id (and so its path) from its name unless given."""
        made = self.principal.make_calendar(name=name, cal_id=cal_id or name.lower().replace(" ", "-"))
        self.calendars[name] = made
        return made

    def key(self, name: str) -> str:
        """The prefix Kith gives the ids of this calendar's events."""
        return calendar_key(f"/{self.user}/{self.calendars[name].url.path.rstrip('/').rsplit('/', 1)[-1]}/")

    def put(self, name: str, text: str) -> None:
        """Add or replace an object (by its UID); a copy goes to the seed folder, where the contract looks."""
        seed = self.folder / "seed"
        seed.mkdir(parents=True, exist_ok=True)
        uid = next(line[4:] for line in text.splitlines() if line.startswith("UID:"))
        (seed / f"{name}-{uid}.ics").write_text(text)
        self.calendars[name].save_event(text)

    def delete(self, name: str, uid: str) -> None:
        self.calendars[name].get_event_by_uid(uid).delete()

    def config_text(self, *, timezone: str = "UTC", **keys: object) -> str:
        values = {"type": "caldav", "name": "cal", "url": self.server.url, "username": self.user,
                  "password_file": "caldav.password", **keys}
        lines = "\n".join(f"{name} = {_toml(value)}" for name, value in values.items() if value is not None)
        return f'[user]\naddresses = ["{ME}"]\ntimezone = "{timezone}"\n\n[[sources]]\n{lines}\n'

    def source(self, *, password: str | None = None, now: datetime = NOW, fetch: int = 100,
               features: dict | None = None, timezone: str = "UTC", **keys: object) -> CaldavSource:
        """The Kith source for this account, its password in a file readable by the user only."""
        secret = self.folder / "caldav.password"
        secret.write_text((PASSWORD if password is None else password) + "\n")
        secret.chmod(0o600)
        config_path = self.folder / "config.toml"
        config_path.write_text(self.config_text(timezone=timezone, **keys))
        config = cfg.load(config_path)
        return CaldavSource(config.sources[0], config, now=now, fetch=fetch, features=features)
