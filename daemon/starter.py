"""The starter config that `kith init` writes: short, valid, and with every section, in this machine's time zone
(the digest time, "today" and "yesterday" follow it: UTC would bring a Californian's morning digest at 23:30)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from zoneinfo import ZoneInfo

STARTER = """\
# Kith configuration. Every key is explained in README.md ("Configuration").

[user]
name = ""
# All your own addresses; mail from them counts as sent by you.
addresses = ["you@example.com"]
timezone = "{timezone}"{zone_note}

[digest]
time = "07:30"
minutes = 30
max_suggestions = 8

# What you want your network for. Relevance is judged against these.
[[goals]]
name = "New customers"
description = "Companies that could buy what I sell"
keywords = ["pilot", "proposal"]
domains = []
weight = 1.0

# Where your mail and calendar are (README: "Using it with your own mail"). Local sources need no account.
# [[sources]]
# type = "maildir"          # or "mbox", "ics"
# name = "mail"
# path = "~/Mail"
#
# An IMAP account (then `kith auth imap`) and a CalDAV account (then `kith auth caldav`), with app passwords:
# [[sources]]
# type = "imap"
# name = "mail"
# host = "imap.fastmail.com"
# username = "you@fastmail.com"
# [[sources]]
# type = "caldav"
# name = "calendar"
# url = "https://caldav.fastmail.com/dav/"
# username = "you@fastmail.com"
# # ca_file = "server.pem"    # a server of your own with a self-signed certificate
#
# Gmail and Google Calendar (`kith auth google`), Outlook (`kith auth microsoft`): see README.

[privacy]
store_subjects = true
ignore_addresses = []
ignore_domains = []
"""


FOUND_NOTE = "   # this machine's time zone: the digest time and \"today\" follow it"
MISSING_NOTE = "   # no time zone found on this machine: write yours, e.g. \"Europe/Berlin\""


def starter_config(zone: str | None = None) -> str:
    """The starter text in `zone` (`machine_timezone()`); without one, UTC with a note to set it."""
    return STARTER.format(timezone=zone or "UTC", zone_note=FOUND_NOTE if zone else MISSING_NOTE)


def machine_timezone(env: Mapping[str, str] | None = None, etc: Path = Path("/etc")) -> str | None:
    """This machine's IANA zone: the TZ variable, else /etc/timezone (Debian, Ubuntu), else the zone the
    /etc/localtime link points to under a zoneinfo folder (most Linux, macOS); None when none names a zone
    Python knows (a POSIX rule such as TZ=CET-1CEST is no name a config can hold)."""
    env = os.environ if env is None else env
    candidates = [_zone_name(env.get("TZ", "").strip().removeprefix(":"))]
    try:
        candidates.append((etc / "timezone").read_text(encoding="utf-8").strip())
    except (OSError, UnicodeDecodeError):
        pass
    try:
        candidates.append(_zone_name(os.readlink(etc / "localtime")))
    except OSError:
        pass
    return next((name for name in candidates if _known(name)), None)


def _zone_name(text: str) -> str:
    """"Europe/Berlin" from itself or from a zoneinfo path (/usr/share/zoneinfo/Europe/Berlin, …/posix/…)."""
    if "zoneinfo/" in text:
        text = text.rpartition("zoneinfo/")[2]
        text = text.removeprefix("posix/").removeprefix("right/")
    return text


def _known(name: str) -> bool:
    if not name or name.startswith(("/", ".")) or name == "localtime":
        return False
    try:
        ZoneInfo(name)
    except (ValueError, OSError, KeyError):   # ZoneInfoNotFoundError is a KeyError
        return False
    return True
