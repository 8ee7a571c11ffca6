"""RFC 5322 header parsing shared by the file and IMAP connectors.

Plain functions, no base class (design principle 2). Everything here works on
the header block only; nothing ever looks at, keeps or returns body text.

Speed matters: a local mbox of 100,000 messages should sync in seconds. So the
header block is not parsed field by field into an `email.message.Message`: one
compiled regex pulls out just the fields a `MessageMeta` needs, in C, and the
common shapes of dates and address lists take hand-written fast paths with the
`email.utils` functions as the fallback for everything unusual.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from email.utils import getaddresses, parsedate_tz
from functools import lru_cache

from connectors.base import Address, MessageMeta

Fields = Mapping[bytes, bytes]

# The fields a MessageMeta is built from (lower-case), which IMAP fetches.
WANTED = (b"message-id", b"date", b"from", b"to", b"cc", b"subject", b"in-reply-to",
          b"references", b"list-id", b"list-unsubscribe", b"precedence", b"auto-submitted",
          b"x-auto-response-suppress", b"feedback-id")
# In a local file's header block, also the topmost Received field (the first one scanned wins): when the mail
# arrived. IMAP asks for none of them (a message has many) and has INTERNALDATE instead.
SCANNED = (*WANTED, b"received")

# name, then the value with its continuation lines. The look-ahead on the first
# letter lets the regex engine reject many lines (continuations, Content-...,
# Delivered-To...) before trying the case-insensitive alternation.
_FIRST_LETTERS = bytes(sorted({n[0] for n in SCANNED} | {n[0] - 32 for n in SCANNED}))
_FIELD = (rb"(?=[" + _FIRST_LETTERS + rb"])(?i:(" + b"|".join(SCANNED) + rb"))[ \t]*:(.*(?:\r?\n[ \t].*)*)")
_FIRST_FIELD = re.compile(_FIELD)
# A field at the start of a line, or the empty line that ends the header block:
# that one swallows the rest (the body) in one step, `(?s:.*)` being O(1) in sre.
_NEXT_FIELD = re.compile(rb"\n(?:" + _FIELD + rb"|\r?\n(?s:.*))")
_ANY_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:(.*(?:\r?\n[ \t].*)*)")


def scan_fields(buf: bytes, start: int = 0, end: int | None = None) -> dict[bytes, bytes]:
    """The SCANNED fields of the header block at buf[start:end], raw and still folded.

    Keys are lower-case; the first occurrence of a field wins. Scanning stops
    at the first empty line, so buf[start:end] may be a whole message (an mbox
    "From " line at `start` is not a field and is passed over). Lines that are
    not fields (garbage, a missing blank line at the end) are not matched.
    """
    end = len(buf) if end is None else end
    if start and buf[start - 1] in (10, b"\n"):       # a line start: one pass does it all
        pairs = _NEXT_FIELD.findall(buf, start - 1, end)
    else:
        pairs = _NEXT_FIELD.findall(buf, start, end)
        first = _FIRST_FIELD.match(buf, start, end)
        if first:
            pairs.insert(0, (first[1], first[2]))
    return {name.lower(): value for name, value in reversed(pairs) if name}


def parse_header_block(block: bytes) -> dict[str, str]:
    """Every field of a header block, unfolded and decoded; the first occurrence wins.

    The general-purpose parser (tests, IMAP fetches of a few fields). Each value
    is decoded on its own, as UTF-8 or else Latin-1, so one 8-bit header does
    not spoil the others.
    """
    fields: dict[str, str] = {}
    for match in _ANY_FIELD.finditer(block):
        if match.start() and block[match.start() - 1] != 0x0A:
            continue                                  # not at the start of a line
        name = match[1].decode("ascii").lower()
        fields.setdefault(name, text_of(match[2]))
    return fields


def text_of(raw: bytes | None) -> str:
    """Unfold and decode one raw value: UTF-8, or Latin-1 when that fails.

    Unfolding drops the line break and keeps the whitespace after it (RFC 5322
    2.2.3), except that a folding tab becomes a space.
    """
    if not raw:
        return ""
    if b"\n" in raw:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n\t", b" ").replace(b"\n", b"")
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


# ---------------------------------------------------------------- RFC 2047

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(?<=\?=)\s+(?==\?)")


def decode_rfc2047(text: str) -> str:
    """Decode `=?charset?q|b?...?=` words; a broken word stays as its raw text."""
    if "=?" not in text:
        return text
    return _ENCODED_WORD.sub(_decode_word, _BETWEEN_WORDS.sub("", text))


def _decode_word(match: re.Match[str]) -> str:
    charset, encoding, payload = match.groups()
    try:
        data = payload.encode("ascii")
        if encoding in "Bb":
            raw = base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)
        else:
            raw = binascii.a2b_qp(data, header=True)
        return raw.decode(charset.split("*", 1)[0])
    except (UnicodeError, LookupError, binascii.Error, ValueError):
        return match[0]


# ---------------------------------------------------------------- addresses

_SPACE_AT = re.compile(r"\s*@\s*")
# One mailbox of a list: `"Quoted, Name" <a@b>`, `Name <a@b>` or a bare `a@b`
# (whitespace around its "@" allowed), then a comma or the end. A value made of
# anything else (comments, groups, stray quotes) goes to email.utils.getaddresses.
_MAILBOX = (r'(?>\s*+(?:(?:"((?:[^"\\]|\\.)*+)"\s*+|([^",<>()]*+))<([^<>]*+)>'
            r'|([^",<>()\s]++(?:\s*+@\s*+[^",<>()\s]++)?))\s*+(?:,|\Z))')
_ONE_MAILBOX = re.compile(_MAILBOX)
_MAILBOX_LIST = re.compile(f"(?:{_MAILBOX})*")
_QUOTED_PAIR = re.compile(r"\\(.)")
_SPECIALS = re.compile(r'["()\\:;]')


@lru_cache(maxsize=4096)
def parse_addresses(raw: bytes) -> tuple[Address, ...]:
    """The valid addresses of a From/To/Cc value, lower-cased, without duplicates.

    Cached on the raw bytes: list mail repeats the same From and To values
    thousands of times. Entries without an "@" are dropped. A list without
    quotes, comments or groups is split on commas, each item cached on its own;
    quoted names go through one regex; anything else to email.utils.getaddresses.
    """
    text = text_of(raw)
    if not _SPECIALS.search(text):
        found = [_simple_address(item) for item in text.split(",")]
    elif _MAILBOX_LIST.fullmatch(text):
        found = [_address(_QUOTED_PAIR.sub(r"\1", quoted) if quoted else plain.strip(), angle) if angle
                 else _address("", bare) for quoted, plain, angle, bare in _ONE_MAILBOX.findall(text)]
    else:
        try:
            found = [_address(name, addr) for name, addr in getaddresses([_SPACE_AT.sub("@", text)])]
        except RecursionError:      # thousands of nested "(" (spam, a broken mailer): no address to be had
            found = []
    if len(found) == 1:
        return () if found[0] is None else (found[0],)
    unique: dict[str, Address] = {}
    for address in found:
        if address is not None and address.email not in unique:
            unique[address.email] = address
    return tuple(unique.values())


@lru_cache(maxsize=65536)
def _simple_address(item: str) -> Address | None:
    """`a@b` or `Name <a@b>` with no quotes or comments, maybe with whitespace inside the address."""
    name, bracket, rest = item.partition("<")
    return _address(name.strip(), rest.partition(">")[0]) if bracket else _address("", name)


@lru_cache(maxsize=16384)
def _address(name: str, addr: str) -> Address | None:
    """One Address, or None without a usable "@". Whitespace inside the address is removed."""
    email = "".join(addr.split()).lower()
    local, at, domain = email.rpartition("@")
    if not (at and local and domain) or not email.isprintable():
        return None
    name = " ".join(name.split())
    return Address(email, decode_rfc2047(name) if "=?" in name else name)


# ---------------------------------------------------------------- dates

_MONTHS = {m: i for i, m in enumerate(
    (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"), 1)}
_MONTHS.update({m.capitalize(): i for m, i in list(_MONTHS.items())})
_DATE = re.compile(rb"\s*(?:[A-Za-z]+,?\s*)?(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\.?\s+(\d{2,4})\s+"
                   rb"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d\d:?\d\d)?")
# "+01:00": ISO 8601's offset, which some mailers write where RFC 5322 has "+0100"
_COLON_ZONE = re.compile(r"([+-]\d\d):(\d\d)(?!\d)")
_FROM_LINE_DATE = re.compile(rb"([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?"
                             rb"(?:\s+[A-Za-z]{1,5})?\s+(\d{4})")


@lru_cache(maxsize=16384)
def parse_date(raw: bytes | str | None) -> datetime | None:
    """An RFC 5322 date as an aware UTC datetime; None when it cannot be read.

    A date without a zone is taken as UTC (RFC 5322's "-0000" meaning); a zone
    written "+01:00" is read as "+0100", not dropped. Cached:
    the copies of one message in several folders carry the same Date value.
    """
    if not raw:
        return None
    data = raw.encode("latin-1", "replace") if isinstance(raw, str) else raw
    match = _DATE.match(data)
    if match is not None:
        day, month, year, hour, minute, second, zone = match.groups()
        number = _MONTHS.get(month) or _MONTHS.get(month.lower())
        if number and zone:
            try:
                return datetime(_year(int(year)), number, int(day), int(hour),
                                int(minute), int(second or 0), tzinfo=_ZONES.get(zone) or _zone(zone)
                                ).astimezone(UTC)
            except (ValueError, OverflowError):
                pass                                   # e.g. second 60: the slow path clamps
    return _slow_date(data.decode("latin-1"))


_ZONES: dict[bytes, timezone] = {}


def _zone(zone: bytes) -> timezone:
    """A fixed offset for `+0930` (or `+09:30`), remembered (a mailbox has a few dozen distinct ones). An
    offset no place has (`+9999`, beyond 14 hours or 59 minutes) is read as RFC 5322's unknown zone, UTC."""
    hours, minutes = int(zone[1:3]), int(zone[-2:])
    if hours > 14 or minutes > 59:
        return UTC
    minutes += hours * 60
    offset = timezone(timedelta(minutes=-minutes if zone[:1] == b"-" else minutes))
    if len(_ZONES) < 1000:
        _ZONES[zone] = offset
    return offset


def _slow_date(text: str) -> datetime | None:
    parts = parsedate_tz(_COLON_ZONE.sub(r"\1\2", text))
    if parts is None:
        return None
    year, month, day, hour, minute, second = parts[:6]
    return _utc(_year(year), month, day, hour, minute, second, (parts[9] or 0) // 60)


def _year(year: int) -> int:
    """A year as mailers meant it: two digits (RFC 5322's obsolete form), and "0001" as Enron's expense
    mails wrote 2001, are read as Python's email parser reads them."""
    if year >= 1000:
        return year
    return year + 2000 if year < 50 else year + 1900


def _utc(year: int, month: int, day: int, hour: int, minute: int, second: int,
         offset_minutes: int) -> datetime | None:
    try:
        moment = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
        return moment - timedelta(minutes=offset_minutes)
    except (ValueError, OverflowError):
        return None


def from_line_date(line: bytes) -> datetime | None:
    """The asctime date of an mbox `From sender Tue Jun  8 10:52:24 2021` line (UTC)."""
    match = _FROM_LINE_DATE.search(line)
    if not match or match[1].lower() not in _MONTHS:
        return None
    month, day, hour, minute, second, year = match.groups()
    return _utc(int(year), _MONTHS[month.lower()], int(day), int(hour), int(minute), int(second or 0), 0)


def arrival_of(fields: Fields) -> datetime | None:
    """When the mail arrived: the date after the ";" of the topmost Received field (as scan_fields keeps it),
    which the receiving server wrote."""
    raw = fields.get(b"received")
    return parse_date(text_of(raw).rpartition(";")[2]) if raw else None


# ---------------------------------------------------------------- ids, bulk

_ANGLE_ID = re.compile(rb"<([^<>]+)>")


def first_id(raw: bytes | None) -> str | None:
    """The first `<id>` of a Message-ID/References/In-Reply-To value, without brackets."""
    if not raw:
        return None
    start = raw.find(b"<")
    if start >= 0:
        end = raw.find(b">", start)
        token = raw[start + 1:end if end > start else len(raw)]
    else:
        token = (raw.split(None, 1) or [b""])[0]
    ident = token.decode("latin-1")
    if not ident.isprintable() or " " in ident:          # folded or padded inside the brackets
        ident = "".join(ident.split())
    return ident or None


def list_id_of(raw: bytes | None) -> str:
    """`Development list <openbmc.lists.ozlabs.org>` -> `openbmc.lists.ozlabs.org`."""
    if not raw:
        return ""
    match = _ANGLE_ID.search(raw)
    return text_of(match[1] if match else raw).lower()


def is_bulk(fields: Fields) -> bool:
    """Mailing-list, newsletter or machine mail, judged from its headers (afew-style)."""
    if fields.get(b"list-id") or fields.get(b"list-unsubscribe") or fields.get(b"feedback-id"):
        return True
    if b"x-auto-response-suppress" in fields:
        return True
    if fields.get(b"precedence", b"").strip().lower() in (b"bulk", b"list", b"junk"):
        return True
    auto = fields.get(b"auto-submitted")
    return auto is not None and auto.split(b";")[0].strip().lower() not in (b"no", b"")


# ---------------------------------------------------------------- records

def meta_from_fields(fields: Fields, *, source_id: str, scope: str = "", labels: tuple[str, ...] = (),
                     fallback_date: Callable[[], datetime | None] | None = None,
                     message_id: str | None = None, dated_id: bool = False,
                     arrived: Callable[[], datetime | None] | None = None,
                     arrival_clock_trusted: bool = True) -> MessageMeta | str:
    """Build the record from scanned fields, or return why it cannot be built.

    The reason (a short phrase) lets each caller write its own one-line note.
    `fallback_date` is called only when the Date field is missing or unreadable.
    `message_id`, when the caller has already read it, saves reading it again.
    `dated_id` appends the Date field's time (UTC, to the second) to `source_id` when there are both.
    `arrived`: when the mail server received the message, which a Date from a wrong clock may not pass
    (`within_arrival`); `arrival_clock_trusted=False` when that time comes from a clock that may be wrong itself
    (a Received field or a Maildir name written on the user's own machine).
    """
    sent_at = dated = parse_date(fields.get(b"date"))
    if sent_at is None and fallback_date is not None:
        sent_at = fallback_date()
    elif sent_at is not None and arrived is not None:
        sent_at = within_arrival(sent_at, arrived(), trusted=arrival_clock_trusted)
    if sent_at is None:
        return "has no usable Date"
    senders = parse_addresses(fields.get(b"from", b""))
    if not senders:
        return "has no usable From"
    message_id = message_id or first_id(fields.get(b"message-id"))
    if dated_id and message_id and dated is not None:   # a fallback date is the copy's, not the message's
        source_id = f"{source_id}/{dated.isoformat(timespec='seconds')}"
    in_reply_to = first_id(fields.get(b"in-reply-to"))
    subject = text_of(fields.get(b"subject"))
    return MessageMeta(
        source_id=source_id, message_id=message_id,
        thread_key=first_id(fields.get(b"references")) or in_reply_to or message_id,
        sent_at=sent_at, sender=senders[0],
        to=parse_addresses(fields.get(b"to", b"")), cc=parse_addresses(fields.get(b"cc", b"")),
        subject=decode_rfc2047(subject) if "=?" in subject else subject,
        in_reply_to=in_reply_to, bulk=is_bulk(fields), list_id=list_id_of(fields.get(b"list-id")),
        labels=labels, scope=scope)


CLOCK_SKEW = timedelta(days=1)


EARLIEST_ARRIVAL = datetime(1990, 1, 1, tzinfo=UTC)


def within_arrival(sent_at: datetime, arrived: datetime | None, *, trusted: bool = True) -> datetime:
    """The sender's Date, unless it lies after the server received the mail (beyond a day of clock skew): a
    sender's clock set years ahead would hide the mail from every judgment until then, so the arrival stands.
    A Date long before the arrival stays: imported and delayed mail arrive late.

    An arrival that is not `trusted` (a Received field or a Maildir name, written by the user's own machine:
    fetchmail on a board without a battery clock stamps 1970) only corrects a Date that is wrong for sure, one
    still in the future now, and only with a time that is possible itself (review 27)."""
    if arrived is None or sent_at <= arrived + CLOCK_SKEW:
        return sent_at
    if trusted:
        return arrived
    now = datetime.now(UTC)
    return arrived if sent_at > now + CLOCK_SKEW and EARLIEST_ARRIVAL <= arrived <= now + CLOCK_SKEW else sent_at


def meta_from_header(block: bytes, *, scope: str = "", source_id: str | None = None,
                     labels: tuple[str, ...] = (),
                     fallback_date: Callable[[], datetime | None] | None = None,
                     arrived: Callable[[], datetime | None] | None = None) -> MessageMeta | str:
    """A MessageMeta from one raw header block (Maildir, IMAP); or why not.

    Without `source_id` the id is `scope/Message-ID`, or `scope/h:<hash of the
    header block>` when there is no Message-ID. When Date is unusable, the
    topmost Received field's date is tried before `fallback_date` (a Maildir file
    name's timestamp, an IMAP INTERNALDATE), as it is part of the message itself.
    A Date that lies after the arrival (`within_arrival`, as for Gmail and
    Outlook) is held to it: the Received field's date, else `arrived`'s.
    """
    fields = scan_fields(block)
    if source_id is None:
        message_id = first_id(fields.get(b"message-id"))
        source_id = f"{scope}/{message_id}" if message_id else hash_source_id(scope, block)

    def dates() -> datetime | None:
        return arrival_of(fields) or (fallback_date() if fallback_date else None)

    def arrival() -> datetime | None:
        return arrival_of(fields) or (arrived() if arrived else None)

    return meta_from_fields(fields, source_id=source_id, scope=scope, labels=labels, fallback_date=dates,
                            arrived=arrival, arrival_clock_trusted=False)


def hash_source_id(scope: str, block: bytes) -> str:
    """`scope/h:` + 16 hex digits of the header block's SHA-1, for mail without a Message-ID."""
    return f"{scope}/h:{hashlib.sha1(block).hexdigest()[:16]}"
