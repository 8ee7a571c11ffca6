"""What a local mail folder's name says about its mail: the user's sent mail, or mail that never went
anywhere (drafts, junk), whatever language, client or folder layout named it.

Folder names reach us as mbox file paths and Maildir++ folders, in the shapes mail
clients and mirrors (mbsync, offlineimap, Dovecot, Thunderbird, Apple Mail) leave:
".INBOX.Sent Items", "[Gmail]/Gesendet", "Envoy&AOk-s" (IMAP's modified UTF-7),
"Sent Messages.mbox/mbox", "Local Folders/Sent".
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Sequence

DEFAULT_SENT_FOLDERS = frozenset({
    "sent", "sent_items", "sent_mail", "sent_messages", "_sent_mail", "_sent", "outbox_sent",
    "gesendet", "gesendete_objekte", "gesendete_elemente", "gesendete_nachrichten",
    "envoyés", "éléments_envoyés", "messages_envoyés", "enviados", "elementos_enviados", "itens_enviados",
    "mensagens_enviadas", "posta_inviata", "inviata", "inviati", "verzonden", "verzonden_items",
    "skickat", "skickade_objekt", "skickade", "sendt", "sendte_elementer", "sendte", "lähetetyt",
    "wysłane", "odeslaná_pošta", "odoslaná_pošta", "elküldött", "отправленные", "gönderilmiş_öğeler",
})
# never sent or never wanted: an unsent draft is not a reply, spam is not a relationship
NOT_MAIL_FOLDERS = frozenset({
    "drafts", "draft", "entwürfe", "brouillons", "borradores", "rascunhos", "bozze", "concepten",
    "utkast", "kladder", "luonnokset", "kopie_robocze", "черновики", "templates", "vorlagen",
    "unsent_messages",    # Thunderbird's queue: not sent yet (an "Outbox" is read: many file received mail there)
    "junk", "junk_e_mail", "junk_email", "junk_mail", "spam", "bulk_mail", "junk__e_mail",
    "spamverdacht", "courrier_indésirable", "indésirables", "correo_no_deseado", "lixo_eletrônico",
    "posta_indesiderata", "ongewenste_e_mail", "skräppost", "søppelpost", "roskaposti", "спам",
})
# an Outlook export's contact cards and tasks, filed as items titled by a name ("Rob Evans"): no mail at all. Its
# calendar is read: an appointment filed there names the meeting's people, as an invitation would (measured on
# the Enron owners: leaving calendars out lost more than it fixed; contacts and tasks out helped on all three groups)
ITEM_FOLDERS = frozenset({"contacts", "kontakte", "tasks", "aufgaben"})
# deleted mail. Local sources read it (an archive's trash still happened); an IMAP account leaves it out, as its
# provider empties it after a few weeks: by the \Trash flag, or by these names on servers without SPECIAL-USE
TRASH_FOLDERS = frozenset({
    "trash", "deleted", "deleted_items", "deleted_messages", "papierkorb", "gelöschte_elemente",
    "gelöschte_objekte", "corbeille", "éléments_supprimés", "papelera", "elementos_eliminados", "lixeira",
    "lixo", "itens_excluídos", "cestino", "posta_eliminata", "prullenbak", "verwijderde_items", "papperskorgen",
    "borttagna_objekt", "papirkurv", "slettet", "roskakori", "poistetut", "kosz", "elementy_usunięte", "koš",
    "корзина", "удаленные",
})
_GMAIL = ("[gmail]", "[google_mail]")
_FOLDER_SEPARATORS = re.compile(r"[\s.\-]+")
_MUTF7 = re.compile(r"&([A-Za-z0-9+,]*)-")


def decode_imap_name(name: str) -> str:
    """IMAP's modified UTF-7 (RFC 3501 5.1.3), as Dovecot, mbsync and offlineimap name folders on disk:
    "Envoy&AOk-s" -> "Envoyés", "&-" -> "&". A name that is not valid modified UTF-7 stays as it is."""
    def piece(match: re.Match[str]) -> str:
        if not match.group(1):
            return "&"
        encoded = match.group(1).replace(",", "/")
        try:
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-16-be")
        except (binascii.Error, UnicodeDecodeError):
            return match.group(0)
    return _MUTF7.sub(piece, name) if "&" in name else name


def normalise_folder(name: str) -> str:
    """`.INBOX.Sent Items` -> `sent_items`: decoded, lower-case, without a leading dot, "INBOX." or an Apple
    Mail ".mbox" bundle, `_` for spaces."""
    text = decode_imap_name(name.strip().replace("\\", "/")).lstrip(".").lower()
    text = re.sub(r"\.mbox(/mbox)?(?=/|$)", "", text)
    text = text.replace(".sbd/", "/")          # Thunderbird's subfolders: "Inbox.sbd/Sent"
    if text.startswith(("inbox.", "inbox/")):
        text = text[6:]
    if text.startswith("local_folders/") or text.startswith("local folders/"):   # Thunderbird
        text = text[14:]
    return _FOLDER_SEPARATORS.sub("_", text)


def _leading(path: str) -> str:
    """The folder that says what a path holds: its first part, or Gmail's "[Gmail]/Sent Mail" whole."""
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0] in _GMAIL else parts[0]


def is_sent_folder(folder: str, sent_folders: Iterable[str] | None = None) -> bool:
    """Whether a folder holds the user's sent mail.

    Only the first path component counts ("sent_items" yes, "chris_stokley/sent"
    and "deleted_items/_sent_mail" no), except below Gmail's "[Gmail]/", where the
    name is the second ("[Gmail]/Sent Mail", "[Gmail]/Gesendet"). `sent_folders`,
    when given, replaces the default names; it may also name a whole path such as
    "Archive/Sent".
    """
    path = normalise_folder(folder)
    if sent_folders is not None:
        names = {normalise_folder(s) for s in sent_folders}
        return _leading(path) in names or path in names
    leading = _leading(path)
    return leading.split("/")[-1] in DEFAULT_SENT_FOLDERS


def is_not_mail_folder(folder: str) -> bool:
    """Whether a folder holds drafts or junk: mail that was never sent to anyone, or never wanted; or an
    export's contacts or tasks, which hold no mail at all."""
    return _leading(normalise_folder(folder)).split("/")[-1] in NOT_MAIL_FOLDERS | ITEM_FOLDERS


def is_item_folder(folder: str) -> bool:
    """Whether a folder is an export's contacts or tasks (ITEM_FOLDERS)."""
    return _leading(normalise_folder(folder)).split("/")[-1] in ITEM_FOLDERS


def left_out_note(folder: str) -> str:
    """The note that says why a folder of `is_not_mail_folder` is not read."""
    if is_item_folder(folder):
        return f"{folder}: contacts or tasks, not mail: not read"
    return f"{folder}: drafts or junk, not read (never sent, or never wanted)"


def is_trash_folder(folder: str) -> bool:
    """Whether a folder's name says it holds deleted mail (the folders inside it included)."""
    return _leading(normalise_folder(folder)).split("/")[-1] in TRASH_FOLDERS


def sent_labels(folder: str, sent_folders: Sequence[str] | None) -> tuple[str, ...]:
    """`("SENT",)` for a sent folder, else `()`."""
    return ("SENT",) if is_sent_folder(folder, sent_folders) else ()
