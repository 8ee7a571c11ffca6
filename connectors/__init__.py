"""Read-only sources of mail and calendar metadata.

The registry maps a `[[sources]] type` to "module:Class"; modules are imported
lazily so that a user without Google sources never imports the Google client.
"""

from __future__ import annotations

import importlib

REGISTRY: dict[str, str] = {
    "mbox": "connectors.mbox:MboxSource",
    "maildir": "connectors.maildir:MaildirSource",
    "ics": "connectors.ics:IcsSource",
    "gmail": "connectors.gmail:GmailSource",
    "google_calendar": "connectors.google_calendar:GoogleCalendarSource",
    "outlook": "connectors.graph_mail:OutlookMailSource",
    "outlook_calendar": "connectors.graph_calendar:OutlookCalendarSource",
    "imap": "connectors.imap:ImapSource",
    "caldav": "connectors.caldav_calendar:CaldavSource",
}


def source_class(kind: str) -> type:
    """Return the connector class registered for a source type."""
    module_name, _, class_name = REGISTRY[kind].partition(":")
    return getattr(importlib.import_module(module_name), class_name)
