"""Render a digest as Markdown, HTML and JSON. Pure functions, no I/O.

The HTML uses inline styles and tables only, so it reads well in Gmail and
Outlook, and it loads nothing from outside.
"""

from __future__ import annotations

import html

from daemon.analysis import Digest
from models.suggest import KIND_TITLES, Suggestion


def heading(digest: Digest) -> str:
    people = len({s.contact_id for s in digest.suggestions} | {s.other_id for s in digest.suggestions if s.other_id})
    minutes = sum(s.minutes for s in digest.suggestions)
    day = f"{digest.date:%A} {digest.date.day} {digest.date:%B %Y}"
    if not people:
        return f"{day} — no one today"
    return f"{day} — {people} {'person' if people == 1 else 'people'}, about {minutes} minutes"


def _groups(digest: Digest) -> list[tuple[str, list[Suggestion]]]:
    groups: dict[str, list[Suggestion]] = {}
    for s in digest.suggestions:
        groups.setdefault(s.kind, []).append(s)
    return [(KIND_TITLES[kind], items) for kind, items in groups.items()]


def _who(s: Suggestion) -> str:
    name = f"{s.name} and {s.other_name}" if s.other_name else s.name
    return f"{name} ({s.goal})" if s.goal else name


def _network_lines(digest: Digest) -> list[str]:
    lines = []
    if digest.focus:
        _, person, goal = digest.focus
        lines.append(f"This week's focus person: {person}" + (f" ({goal})." if goal else "."))
    for goal, counts in digest.network.items():
        line = f"Your network for “{goal}”: {counts['active']} active, {counts['passive']} passive, {counts['new']} new."
        lines.append(line + (" Thin — worth building." if counts["thin"] else ""))
    return lines


def render_markdown(digest: Digest) -> str:
    out = [f"# {heading(digest)}", ""]
    if not digest.suggestions:
        out += ["Nothing needs you today. Enjoy the time.", ""]
    for title, items in _groups(digest):
        out += [f"## {title}", ""]
        for s in items:
            out.append(f"- **{_who(s)}** — {'; '.join(s.reasons)}. *({s.minutes} min)*")
        out.append("")
    lines = _network_lines(digest)
    if lines:
        out += ["## Your network", ""] + [f"- {line}" for line in lines] + [""]
    out += [f"> Note: {note}" for note in digest.notes] + ([""] if digest.notes else [])
    out.append("Kith never contacts anyone for you: each suggestion is yours to make personal.")
    return "\n".join(out) + "\n"


def render_text(digest: Digest) -> str:
    """Plain text for the terminal and the text/plain part of the e-mail."""
    out = [heading(digest), ""]
    if not digest.suggestions:
        out += ["Nothing needs you today.", ""]
    for title, items in _groups(digest):
        out.append(title)
        for s in items:
            out.append(f"  {_who(s)} — {'; '.join(s.reasons)}. ({s.minutes} min)")
        out.append("")
    out += _network_lines(digest)
    out += ([""] if digest.notes else []) + [f"Note: {note}" for note in digest.notes]
    return "\n".join(out).rstrip() + "\n"


CELL = "font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.45;color:#222;padding:6px 0;"


def render_html(digest: Digest) -> str:
    e = html.escape
    rows = [f'<tr><td style="{CELL}font-size:20px;font-weight:bold;padding-bottom:12px;">{e(heading(digest))}</td></tr>']
    if not digest.suggestions:
        rows.append(f'<tr><td style="{CELL}">Nothing needs you today.</td></tr>')
    for title, items in _groups(digest):
        rows.append(f'<tr><td style="{CELL}font-size:17px;font-weight:bold;color:#1a5e4a;padding-top:14px;">{e(title)}</td></tr>')
        for s in items:
            rows.append(f'<tr><td style="{CELL}"><strong>{e(_who(s))}</strong> — {e("; ".join(s.reasons))}. '
                        f'<span style="color:#777;">({s.minutes} min)</span></td></tr>')
    for line in _network_lines(digest):
        rows.append(f'<tr><td style="{CELL}color:#555;">{e(line)}</td></tr>')
    for note in digest.notes:
        rows.append(f'<tr><td style="{CELL}color:#8a5a00;padding-top:12px;">Note: {e(note)}</td></tr>')
    body = "\n".join(rows)
    return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Kith digest</title></head>\n'
            '<body style="margin:0;padding:0;background:#f6f6f4;">\n'
            '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f6f6f4;">'
            '<tr><td align="center" style="padding:20px;">\n'
            '<table role="presentation" width="600" cellpadding="0" cellspacing="0" '
            'style="background:#ffffff;padding:24px;border-radius:6px;">\n'
            f"{body}\n</table></td></tr></table>\n</body></html>\n")


def to_json(digest: Digest) -> dict:
    """The `digest --json` contract: date and suggestions with kind, address, name, reasons, goal, minutes."""
    return {
        "date": digest.date.isoformat(),
        "suggestions": [
            {"kind": s.kind, "address": s.contact_id, "addresses": list(s.addresses), "name": s.name,
             "reasons": list(s.reasons), "goal": s.goal, "minutes": s.minutes, "context": s.context,
             **({"with": {"address": s.other_id, "name": s.other_name}} if s.other_id else {})}
            for s in digest.suggestions
        ],
        "minutes": sum(s.minutes for s in digest.suggestions),
        "network": digest.network,
        "focus": {"address": digest.focus[0], "name": digest.focus[1], "goal": digest.focus[2]} if digest.focus else None,
        "notes": list(digest.notes),
    }
