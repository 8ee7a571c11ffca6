"""Header parsing shared by the mail connectors: one case per quirk seen in real mail."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.base import Address, MessageMeta
from connectors.headers import (arrival_of, decode_rfc2047, first_id, from_line_date, is_bulk,
                                list_id_of, meta_from_header, parse_addresses, parse_date,
                                parse_header_block, scan_fields, text_of)

HEADER = (b"Message-ID: <abc@example.com>\n"
          b"Date: Tue,  8 Jun 2021 20:17:48 +0930\n"
          b"From: =?utf-8?q?J=C3=BCrgen?= <J@Example.DE>\n"
          b"To: a@example.com,\n\t\"Last, First\" <First.Last@example.com>\n"
          b"Subject: [PATCH v4] ipmi: strip private data from struct\n kcs_bmc\n"
          b"References: <root@example.com>\n <parent@example.com>\n"
          b"In-Reply-To: <parent@example.com>\n")


def test_a_header_block_becomes_a_message_meta():
    meta = meta_from_header(HEADER, scope="inbox")
    assert isinstance(meta, MessageMeta)
    assert meta.source_id == "inbox/abc@example.com"
    assert meta.message_id == "abc@example.com"
    assert meta.sent_at == datetime(2021, 6, 8, 10, 47, 48, tzinfo=UTC)
    assert meta.sender == Address("j@example.de", "Jürgen")
    assert meta.to == (Address("a@example.com"), Address("first.last@example.com", "Last, First"))
    assert meta.subject == "[PATCH v4] ipmi: strip private data from struct kcs_bmc"
    assert meta.thread_key == "root@example.com" and meta.in_reply_to == "parent@example.com"
    assert meta.bulk is False and meta.scope == "inbox"


def test_the_first_occurrence_of_a_field_wins_and_garbage_lines_are_ignored():
    block = b"garbage line\nDate: Mon, 1 Mar 2021 10:00:00 +0000\nDATE: Tue, 2 Mar 2021 10:00:00 +0000\n"
    fields = scan_fields(block)
    assert fields[b"date"].strip() == b"Mon, 1 Mar 2021 10:00:00 +0000"
    assert parse_header_block(block) == {"date": "Mon, 1 Mar 2021 10:00:00 +0000"}


def test_a_block_without_a_final_newline_still_parses():
    assert parse_header_block(b"From: a@b.c\nSubject: cut") == {"from": "a@b.c", "subject": "cut"}
    assert scan_fields(b"Subject: cut")[b"subject"] == b" cut"


def test_each_header_is_decoded_on_its_own_utf8_or_latin1():
    block = b"To: J\xc3\xbcrgen <j@x.de>\nSubject: Caf\xe9\n"
    assert parse_header_block(block) == {"to": "Jürgen <j@x.de>", "subject": "Café"}


def test_no_body_is_read_after_the_header_block():
    meta = meta_from_header(HEADER + b"\nFrom: body@example.com\nSubject: body\n", scope="s")
    assert meta.sender.email == "j@example.de" and "body" not in meta.subject


@pytest.mark.parametrize("raw, expected", [
    ("=?utf-8?q?J=C3=BCrgen_M=C3=BCller?=", "Jürgen Müller"),
    ("=?iso-8859-1?q?Ren=E9e?=", "Renée"),
    ("=?UTF-8?B?w5Zyc3RlZA==?=", "Örsted"),
    ("=?utf-8?q?a?= =?utf-8?q?b?= c", "ab c"),               # whitespace between words goes
    ("=?utf-8?b?w5Z?=", "Ö"),                                # missing base64 padding
    ("=?bogus-charset?q?abc?=", "=?bogus-charset?q?abc?="),  # unknown charset: raw
    ("=?utf-8?q?broken", "=?utf-8?q?broken"),                # unterminated: raw
    ("=?utf-8?b?!!!?=", "=?utf-8?b?!!!?="),                  # invalid base64: raw
    ("=?utf-8?q?=FF?=", "=?utf-8?q?=FF?="),                  # not UTF-8: raw
    ("plain text", "plain text"),
])
def test_rfc2047_words_decode_and_broken_ones_stay_raw(raw, expected):
    assert decode_rfc2047(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    (b"Andrew Jeffery <andrew@aj.id.au>", [("andrew@aj.id.au", "Andrew Jeffery")]),
    (b'"Last, First" <First@X.com>', [("first@x.com", "Last, First")]),
    (b"matthews.patricia\xa0@enron.com", [("matthews.patricia@enron.com", "")]),
    (b"a@x.com,\n\tb@x.com,\n\t c@x.com", [("a@x.com", ""), ("b@x.com", ""), ("c@x.com", "")]),
    (b"no-at-sign, <>, , a@x.com, A <a@x.com>", [("a@x.com", "")]),
    (b"undisclosed-recipients:;", []),
    (b"a@x.com (Alice A.)", [("a@x.com", "Alice A.")]),
    (b'"=?utf-8?q?M=C3=BCller?=" <m@x.de>', [("m@x.de", "Müller")]),
    (b'"A \\"Q\\" B" <q@x.com>', [("q@x.com", 'A "Q" B')]),
    (b"", []),
])
def test_address_lists(raw, expected):
    assert [(a.email, a.name) for a in parse_addresses(raw)] == expected


def test_a_pathological_address_list_does_not_hang():
    assert parse_addresses(b"a@b.c, " * 300 + b" " * 5000 + b"(") is not None


@pytest.mark.parametrize("raw, expected", [
    (b" Tue,  8 Jun 2021 20:17:48 +0930", datetime(2021, 6, 8, 10, 47, 48, tzinfo=UTC)),
    (b"Mon, 15 Oct 2001 14:34:48 -0700 (PDT)", datetime(2001, 10, 15, 21, 34, 48, tzinfo=UTC)),
    (b"8 Jun 21 10:00 GMT", datetime(2021, 6, 8, 10, 0, tzinfo=UTC)),
    (b"Wed, 21 Dec 0001 22:31:43 -0800", datetime(2001, 12, 22, 6, 31, 43, tzinfo=UTC)),   # Enron's expense mails
    (b"Wed, 21 Dec 1999 22:31:43 -0800", datetime(1999, 12, 22, 6, 31, 43, tzinfo=UTC)),
    (b"Tue, 8 Jun 2021 10:00:00 EST", datetime(2021, 6, 8, 15, 0, tzinfo=UTC)),
    (b"Tue, 8 Jun 2021 23:59:60 +0000", datetime(2021, 6, 8, 23, 59, 59, tzinfo=UTC)),
    (b"Tue, 8 Jun 2021 10:00:00", datetime(2021, 6, 8, 10, 0, tzinfo=UTC)),  # no zone: UTC
    (b"Tue, 8 Jun 2021 10:00:00 +9999", datetime(2021, 6, 8, 10, 0, tzinfo=UTC)),  # no such zone: UTC
    (b"Tue, 8 Jun 2021 10:00:00 -1400", datetime(2021, 6, 9, 0, 0, tzinfo=UTC)),
    (b"Sun, 31 Feb 2021 10:00:00 +0000", None),
    (b"the day after tomorrow", None),
    (b"", None),
    (None, None),
])
def test_dates_become_aware_utc_or_none(raw, expected):
    assert parse_date(raw) == expected


@pytest.mark.parametrize("raw", [b"Mon, 2 Mar 2026 09:00:00 +01:00", b"Mon, 2 Mar 2026 09:00 +01:00 (CET)",
                                 b"Mon, Mar 2 2026 09:00:00 +01:00"])        # the last one through email.utils
def test_a_zone_written_with_a_colon_is_read_not_dropped(raw):
    assert parse_date(raw) == datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert parse_date(raw.replace(b"+01:00", b"-05:30")) == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def test_date_fallbacks_from_line_and_received():
    assert from_line_date(b"From x@y Tue Jun  8 10:52:24 2021") == datetime(2021, 6, 8, 10, 52, 24, tzinfo=UTC)
    assert from_line_date(b"From x@y") is None
    block = (b"Received: from a by b; Wed, 9 Jun 2021 12:00:00 +0200\n"
             b"Received: from c by d; Tue, 8 Jun 2021 12:00:00 +0000\n")
    assert arrival_of(scan_fields(block)) == datetime(2021, 6, 9, 10, 0, tzinfo=UTC)


def test_an_unusable_date_uses_received_then_the_fallback_else_says_why():
    no_date = b"From: a@x.com\nReceived: from a by b;\n Wed, 9 Jun 2021 12:00:00 +0000\n"
    assert meta_from_header(no_date, scope="s").sent_at == datetime(2021, 6, 9, 12, tzinfo=UTC)
    later = datetime(2022, 1, 1, tzinfo=UTC)
    assert meta_from_header(b"From: a@x.com\n", scope="s", fallback_date=lambda: later).sent_at == later
    assert meta_from_header(b"From: a@x.com\nDate: soon\n", scope="s") == "has no usable Date"
    assert meta_from_header(b"Date: Tue, 8 Jun 2021 10:00:00 +0000\n", scope="s") == "has no usable From"


def test_a_date_after_the_arrival_is_held_to_it_as_for_gmail_and_outlook():
    """A sender's clock set to 2037 would hide the mail until then; the topmost Received field says when it
    came, else the caller's arrival (a Maildir delivery time, an IMAP INTERNALDATE)."""
    received = (b"Received: from mx.me.example by mail; Mon, 2 Mar 2026 09:00:05 +0000\n"
                b"Received: from mx.other.example by mx.me.example; Fri, 2 Mar 2040 09:00:00 +0000\n")
    late = b"From: a@x.com\nDate: Mon, 2 Mar 2037 09:00:00 +0000\n"
    stamp = datetime(2026, 3, 3, tzinfo=UTC)
    assert meta_from_header(received + late, scope="s", arrived=lambda: stamp).sent_at == datetime(
        2026, 3, 2, 9, 0, 5, tzinfo=UTC)                                       # the topmost one, before `arrived`
    assert meta_from_header(late, scope="s", arrived=lambda: stamp).sent_at == stamp
    assert meta_from_header(late, scope="s").sent_at == datetime(2037, 3, 2, 9, tzinfo=UTC)   # nothing to hold to
    for date, sent in ((b"Mon, 2 Mar 2026 20:00:00 +0000", datetime(2026, 3, 2, 20, tzinfo=UTC)),   # within a day
                       (b"Mon, 2 Mar 2020 09:00:00 +0000", datetime(2020, 3, 2, 9, tzinfo=UTC))):   # delayed, imported
        block = received + b"From: a@x.com\nDate: " + date + b"\n"
        assert meta_from_header(block, scope="s", arrived=lambda: stamp).sent_at == sent


def test_message_ids_and_a_missing_one_hashes_the_header():
    assert first_id(b" <a@b>") == "a@b"
    assert first_id(b" <root@x> <parent@x>") == "root@x"
    assert first_id(b" bare@id ") == "bare@id"
    assert first_id(b"   ") is None and first_id(None) is None
    block = b"From: a@x.com\nDate: Tue, 8 Jun 2021 10:00:00 +0000\n"
    meta = meta_from_header(block, scope="inbox")
    assert meta.message_id is None and meta.thread_key is None
    assert meta.source_id.startswith("inbox/h:") and len(meta.source_id) == len("inbox/h:") + 16
    assert meta_from_header(block, scope="inbox").source_id == meta.source_id
    assert meta_from_header(block + b"Subject: other\n", scope="inbox").source_id != meta.source_id


@pytest.mark.parametrize("field, value", [
    (b"list-id", b"Dev <x.lists.example.org>"),
    (b"list-unsubscribe", b"<mailto:leave@x>"),
    (b"precedence", b" bulk"),
    (b"precedence", b"List"),
    (b"precedence", b"junk"),
    (b"auto-submitted", b"auto-generated"),
    (b"auto-submitted", b"auto-replied; owner-email=x@y"),
    (b"x-auto-response-suppress", b"All"),
    (b"feedback-id", b"1:2:3"),
])
def test_each_bulk_header_marks_bulk(field, value):
    assert is_bulk({field: value}) is True


@pytest.mark.parametrize("fields", [{}, {b"auto-submitted": b" no"}, {b"precedence": b"first-class"}])
def test_personal_mail_is_not_bulk(fields):
    assert is_bulk(fields) is False


def test_list_id_is_lower_case_without_brackets():
    assert list_id_of(b"Development list for OpenBMC <openbmc.lists.OZLABS.org>") == "openbmc.lists.ozlabs.org"
    assert list_id_of(b" plain.list.example ") == "plain.list.example"
    assert list_id_of(None) == ""


def test_text_of_unfolds_and_keeps_inner_spacing():
    assert text_of(b" REMINDER:  JDF\r\n\tHappy Hour ") == "REMINDER:  JDF Happy Hour"




def test_an_address_list_too_deeply_nested_for_the_parser_gives_no_address():
    assert parse_addresses(b"(" * 1200 + b"x@y.example") == ()


def test_an_address_with_control_characters_is_no_address():
    assert parse_addresses(b"eve\x1b@x.example, kim@x.example") == (Address("kim@x.example"),)


def test_a_received_field_from_a_wrong_clock_moves_no_date_that_could_be_right():
    """Review 27: fetchmail on a board without a battery clock stamps 1970 (or last week) on every Received
    field; a right Date after it stayed right only while it is not in the future. A time before 1990 holds
    nothing, not even a Date in the future."""
    good = b"From: a@x.com\nDate: Tue, 03 Mar 2026 09:00:00 +0100\n"
    for stamp in (b"Thu, 01 Jan 1970 00:00:00 +0000", b"Sat, 01 Jan 2000 00:00:00 +0000",
                  b"Mon, 23 Feb 2026 08:00:00 +0000"):
        block = b"Received: from x by y; " + stamp + b"\n" + good
        assert meta_from_header(block, scope="s").sent_at == datetime(2026, 3, 3, 8, tzinfo=UTC), stamp
    future = b"Received: from x by y; Thu, 01 Jan 1970 00:00:00 +0000\nFrom: a@x.com\nDate: Mon, 2 Mar 2037 09:00:00 +0000\n"
    assert meta_from_header(future, scope="s").sent_at == datetime(2037, 3, 2, 9, tzinfo=UTC)
