"""The starter config that `kith init` writes: short, valid, and with every section."""

from __future__ import annotations

STARTER = """\
# Kith configuration. Every key is explained in README.md ("Configuration").

[user]
name = ""
# All your own addresses; mail from them counts as sent by you.
addresses = ["you@example.com"]
timezone = "UTC"

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

# Where your mail and calendar are. Local sources need no account.
# [[sources]]
# type = "maildir"          # or "mbox", "ics"
# name = "mail"
# path = "~/Mail"

[privacy]
store_subjects = true
ignore_addresses = []
ignore_domains = []
"""


def starter_config() -> str:
    return STARTER
