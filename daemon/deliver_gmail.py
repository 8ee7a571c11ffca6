"""Put the morning digest into the user's own Gmail inbox: `messages.insert`, never send.

Insert is IMAP APPEND for the API (scope gmail.insert): the message lands in
this mailbox only and nothing leaves it. The sender is Kith, not the user, so
Gmail does not file it under SENT; the `X-Kith-Digest` header lets the Gmail
connector drop it when it comes back through sync. The Message-ID is fixed per
date, and before each attempt we look for it among the newest inbox messages,
so a retry after a timeout whose insert did land, or after a kill before it was
recorded, never inserts a second copy. The caller records each insert at once
(`on_placed`, `digest_deliveries`): that record, not this look, keeps a digest
the user archived or that 25 newer mails pushed down from arriving twice.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from email import policy
from email.headerregistry import Address as MailAddress
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from googleapiclient.errors import HttpError

from connectors.backoff import delay_for
from connectors.gmail import COST, GmailClient
from connectors.google_auth import (GMAIL_INSERT, GMAIL_METADATA, auth_errors, authorized_http, build_service,
                                    NETWORK_ERRORS, http_problem, is_temporary, retry_after, source_key)
from daemon.config import Config, SourceConfig
from daemon.errors import SourceError

log = logging.getLogger(__name__)

SENDER = MailAddress("Kith", "kith-digest", "localhost")   # not the user: Gmail would add SENT
DIGEST_HEADER = "X-Kith-Digest"
RECENT = 25          # inbox messages looked at for an earlier copy
ATTEMPTS = 6


def digest_message_id(day: date) -> str:
    return f"<kith-digest-{day.isoformat()}@kith.local>"


def build_digest(day: date, to: str, subject: str, text: str, html: str, now: datetime) -> EmailMessage:
    """multipart/alternative, text first and HTML second, with the headers that identify it."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = SENDER
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now.astimezone(UTC))
    msg["Message-ID"] = digest_message_id(day)
    msg[DIGEST_HEADER] = "1"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


def find_inserted(client: GmailClient, day: date) -> str | None:
    """The Gmail id of this date's digest if it is already among the newest inbox messages."""
    ids, _ = client.list_page(None, label_ids=["INBOX"], size=RECENT)
    wanted = digest_message_id(day)
    replies = client.fetch(ids, headers=["Message-ID", DIGEST_HEADER], fields="id,payload/headers")
    for mid in ids:
        headers = (replies.get(mid) or {}).get("payload", {}).get("headers", [])
        if any(h["name"].lower() == "message-id" and h["value"].strip() == wanted for h in headers):
            return mid
    return None


def insert_digest(source: SourceConfig, config: Config, day: date, subject: str, text: str, html: str, *,
                  http: Any = None, now: datetime | None = None, sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic,
                  on_placed: Callable[[str], None] | None = None) -> str:
    """Insert the digest for `day` into the inbox (INBOX, UNREAD) once; returns its Gmail id, handed to
    `on_placed` as soon as it is known (before the refreshed token is saved, which may fail)."""
    with auth_errors(source):
        session = None
        if http is None:
            http, session = authorized_http(source, config, need=[GMAIL_METADATA, GMAIL_INSERT])
        client = GmailClient(source, build_service("gmail", source, http), sleep=sleep, clock=clock)
        message_id = _insert_once(client, source, day, subject, text, html, now or datetime.now(UTC))
        if on_placed is not None:
            on_placed(message_id)
        if session:
            session.persist()
        return message_id


def _insert_once(client: GmailClient, source: SourceConfig, day: date, subject: str, text: str, html: str,
                 now: datetime) -> str:
    """Look, then insert; after a temporary failure look again, as the insert may have landed."""
    to = client.profile()["emailAddress"]
    raw = base64.urlsafe_b64encode(build_digest(day, to, subject, text, html, now).as_bytes()).decode()
    body = {"raw": raw, "labelIds": ["INBOX", "UNREAD"]}
    for attempt in range(ATTEMPTS):
        found = find_inserted(client, day)
        if found:
            log.info("%s: digest for %s is already in the inbox", source_key(source), day.isoformat())
            return found
        client.bucket.take(COST["insert"])
        request = client.messages.insert(userId="me", body=body, internalDateSource="receivedTime")
        try:
            return request.execute(num_retries=0)["id"]
        except HttpError as exc:
            if not is_temporary(exc):
                raise http_problem(exc, source, "the digest") from None
            sleep_for = delay_for(attempt, retry_after=retry_after(exc))
        except NETWORK_ERRORS:      # a dropped connection, or an answer cut off: the insert may have landed
            sleep_for = delay_for(attempt)
        client.sleep(sleep_for)
    raise SourceError("Gmail kept refusing the digest", where=source_key(source),
                      fix="nothing to do: delivery is tried again at the next run")
