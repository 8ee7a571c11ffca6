"""Put the day's digest into the user's own Outlook inbox, as a received unread message.

Graph can only do this by creating a message in the inbox folder
(`POST /me/mailFolders/inbox/messages`, permission Mail.ReadWrite). A created
message is a draft unless MAPI PidTagMessageFlags (`Integer 0x0E07`) is set in
the same call, so it is. Nothing is sent: no send, reply or forward endpoint is
ever called, and the message never leaves the mailbox.

Delivery is idempotent per date: the caller records each creation at once
(`on_placed`, `digest_deliveries`) and asks no more; and the message carries a
deterministic internetMessageId, looked for in the whole mailbox (`/me/messages`:
every folder, so a digest the user moved or deleted counts) before creating,
for a kill between creating and recording. The mail connector drops it on sync.

With `delivery_client_id` the token comes from that second app registration and
its own cache (`kith auth microsoft --delivery`), so Mail.ReadWrite never reaches
the tokens the sync uses; without it, from the sync's app, as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from connectors.graph_client import GraphClient
from connectors.graph_mail import digest_message_id
from connectors.microsoft_auth import WRITE_SCOPE, MicrosoftAuth, auth_fix
from daemon.config import Config, SourceConfig
from daemon.errors import AuthError

log = logging.getLogger(__name__)

SENDER_NAME = "Kith"
FALLBACK_ADDRESS = "kith@kith.local"
MESSAGE_FLAGS = {"id": "Integer 0x0E07", "value": "1"}   # PidTagMessageFlags: without MSGFLAG_UNSENT, not a draft


def create_digest(source: SourceConfig, config: Config, day: date, subject: str, text: str, html: str, *,
                  http_client: Any = None, sleep: Callable[[float], None] = time.sleep,
                  on_placed: Callable[[str], None] | None = None) -> str:
    """Create the digest for `day` in the inbox unless the mailbox has it already; return its Graph id, handed
    to `on_placed` as soon as it is known."""
    auth = MicrosoftAuth(source, config, http_client=http_client, delivery=bool(source.delivery_client_id))
    auth.require_account()      # one line naming the sign-in to run, before any network
    where = f"outlook:{source.name}"

    def token(force: bool) -> str:
        try:
            return auth.token((WRITE_SCOPE,), force_refresh=force)
        except AuthError as exc:      # typically: Mail.ReadWrite was never consented to
            raise AuthError(exc.problem, where=where, fix=_write_fix(source)) from None

    graph = GraphClient(source.graph_endpoint, token, session=auth.http, where=where, fix=_write_fix(source),
                        sleep=sleep)
    internet_id = digest_message_id(day)
    found = graph.get("/me/messages",
                      params={"$filter": f"internetMessageId eq '{internet_id}'", "$select": "id"}).get("value", [])
    if found:
        log.info("%s: digest for %s is already in the mailbox", where, day.isoformat())
        if on_placed is not None:
            on_placed(found[0]["id"])
        return found[0]["id"]
    created = graph.post("/me/mailFolders/inbox/messages", digest_message(config, internet_id, subject, text, html))
    if on_placed is not None:
        on_placed(created["id"])
    if created.get("isRead"):
        graph.patch(f"/me/messages/{created['id']}", {"isRead": False})
    log.info("%s: digest for %s created in the inbox", where, day.isoformat())
    return created["id"]


def digest_message(config: Config, internet_id: str, subject: str, text: str, html: str) -> dict:
    """The create-message body: unread, not a draft, from "Kith" at the user's own address.

    Graph messages have one body, so the HTML (which carries the text) is used;
    the plain text only when there is no HTML.
    """
    own = config.user.addresses[0].strip().lower() if config.user.addresses else FALLBACK_ADDRESS
    mailbox = {"emailAddress": {"name": SENDER_NAME, "address": own}}
    body = {"contentType": "html", "content": html} if html else {"contentType": "text", "content": text}
    message = {"subject": subject, "body": body, "from": mailbox, "sender": mailbox, "isRead": False,
               "internetMessageId": internet_id, "singleValueExtendedProperties": [MESSAGE_FLAGS]}
    if config.user.addresses:
        message["toRecipients"] = [{"emailAddress": {"name": config.user.name or own, "address": own}}]
    return message


def _write_fix(source: SourceConfig) -> str:
    if source.delivery_client_id:
        return f"{auth_fix(source, delivery=True)} to grant Mail.ReadWrite to the delivery app"
    return f"add \"outlook\" to [digest] deliver, then {auth_fix(source)} to grant Mail.ReadWrite"
