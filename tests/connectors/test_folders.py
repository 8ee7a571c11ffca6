"""What a folder's name says: the user's sent mail, or drafts and junk that are not mail at all."""

from __future__ import annotations

import pytest

from connectors.folders import decode_imap_name, is_not_mail_folder, is_sent_folder, is_trash_folder

@pytest.mark.parametrize("folder, sent", [
    ("sent_items", True), ("_sent_mail", True), ("sent", True), ("_sent", True),
    ("Sent Items", True), ("Sent-Messages", True), (".Sent", True), ("INBOX.Sent", True),
    ("[Gmail]/Sent Mail", True), ("Gesendete Objekte", True), ("Envoyés", True),
    ("sent_items/clickathome", True),                 # only the first component counts
    ("chris_stokley/sent", False), ("deleted_items/_sent_mail", False), ("hold/old_sent", False),
    ("inbox", False), ("INBOX", False), ("presentations", False),
])
def test_sent_folders(folder, sent):
    assert is_sent_folder(folder) is sent


def test_configured_sent_folders_replace_the_defaults():
    assert is_sent_folder("Outbox Archive", ["outbox archive"]) is True
    assert is_sent_folder("Archive/Sent", ["Archive/Sent"]) is True
    assert is_sent_folder("sent_items", ["Outbox Archive"]) is False


@pytest.mark.parametrize("folder", [
    "[Gmail]/Gesendet", "[Gmail]/Messages envoyés", "[Google Mail]/Gesendet",     # localized Gmail via mbsync
    "Envoy&AOk-s", ".INBOX.Envoy&AOk-s", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-",      # IMAP names on disk
    "Sent Messages.mbox/mbox", "Sent.mbox",                                         # Apple Mail export
    "Local Folders/Sent", "Inbox.sbd/Sent", "Itens Enviados",                       # Thunderbird; Portuguese
])
def test_sent_folders_as_clients_and_mirrors_name_them(folder):
    assert is_sent_folder(folder)


def test_modified_utf7_names_decode_and_bad_ones_stay():
    assert decode_imap_name("Envoy&AOk-s") == "Envoyés"
    assert decode_imap_name("&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-") == "Отправленные"
    assert decode_imap_name("Tom &- Jerry") == "Tom & Jerry"
    assert decode_imap_name("R&D-x") == "R&D-x"                  # not valid modified UTF-7: left alone


@pytest.mark.parametrize("folder, not_mail", [
    ("Drafts", True), (".Drafts", True), ("INBOX.Drafts", True), ("[Gmail]/Drafts", True), ("Entw&APw-rfe", True),
    ("Junk", True), ("Junk E-mail", True), ("inbox/junk", True), ("Spam", True), ("[Gmail]/Spam", True),
    ("Unsent Messages", True), ("Inbox.sbd/Drafts", True), ("Outbox", False),       # queued, never sent
    ("Trash", False), ("Deleted Items", False),         # deleted mail still happened
    ("inbox", False), ("Sent", False), ("projects/drafts", False),     # only the leading folder says it
])
def test_drafts_and_junk_are_not_mail(folder, not_mail):
    assert is_not_mail_folder(folder) is not_mail


@pytest.mark.parametrize("folder, trash", [
    ("Trash", True), ("Deleted Items", True), ("Deleted Messages", True), ("INBOX.Trash", True), ("Trash/2019", True),
    ("[Gmail]/Trash", True), ("Papierkorb", True), ("Gel&APY-schte Elemente", True), ("Корзина", True),
    ("Archive/Trash", False), ("Trash Talk", False), ("INBOX", False), ("Sent", False),
])
def test_trash_is_known_by_name_for_servers_without_special_use(folder, trash):
    assert is_trash_folder(folder) is trash


def test_an_exports_contacts_and_tasks_are_no_mail():
    """Outlook exports hold contact cards and tasks as items in folders of their own, titled by a name ("Rob
    Evans"): no mail. Its calendar's appointments name a meeting's people and are read."""
    from connectors.folders import is_not_mail_folder, left_out_note
    for name in ("contacts", "Contacts", "Kontakte", "Tasks", "INBOX.Tasks"):
        assert is_not_mail_folder(name), name
    assert not is_not_mail_folder("calendar") and not is_not_mail_folder("notes_inbox")
    assert left_out_note("contacts") == "contacts: contacts or tasks, not mail: not read"
    assert left_out_note("Drafts") == "Drafts: drafts or junk, not read (never sent, or never wanted)"
