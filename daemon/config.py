"""The configuration: one schema in code, loaded from TOML into frozen dataclasses.

Every key has a help string here; README.md and config.example.toml are tested
against this schema. Errors name the file, the line where we can find it, the
key, and the fix, and unknown keys get a did-you-mean suggestion.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from daemon import paths
from daemon.errors import ConfigError

LOCAL_SOURCE_TYPES = ("mbox", "maildir", "ics")
SOURCE_TYPES = (*LOCAL_SOURCE_TYPES, "gmail", "google_calendar", "outlook", "outlook_calendar", "imap", "caldav")
DELIVERY_TARGETS = ("file", "gmail", "outlook")


def key(default: Any, help: str, **extra: Any) -> Any:
    """A config field with its help text (and, for lists, the element type)."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, **extra})
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class UserConfig:
    name: str = key("", "Your name, as it appears in the digest.")
    addresses: list[str] = key([], "All your own e-mail addresses and aliases; mail from them counts as sent by you. "
                               "Their domains (free-mail providers aside) are your organisation: a colleague there "
                               "who keeps writing to you directly is not noise for going unanswered.")
    timezone: str = key("UTC", "IANA time zone for the digest time, for 'today', and for calendar times written "
                               "without a zone (and all-day events), e.g. Europe/Berlin.")


@dataclass(frozen=True)
class StorageConfig:
    database: str = key("", "Path of the SQLite database (default: kith.db in your data directory).")


@dataclass(frozen=True)
class DigestConfig:
    time: str = key("07:30", "Local time of day (HH:MM) at which the daemon writes the morning digest.")
    minutes: int = key(30, "Your daily time budget in minutes; the digest never suggests more.", bounds=(1, 1440))
    max_suggestions: int = key(8, "At most this many suggestions per digest.", bounds=(1, 100))
    directory: str = key("", "Folder for the Markdown and HTML digests (default: digests/ in your data directory).")
    deliver: list[str] = key(["file"], "Where the digest goes: \"file\" (always written), \"gmail\", \"outlook\".",
                             choices=DELIVERY_TARGETS)
    repeat_days: int = key(14, "Do not suggest the same person again within this many days unless something changed.",
                           bounds=(0, 3650))


@dataclass(frozen=True)
class Goal:
    name: str = key(None, "Short name of the goal, shown in the digest.", required=True)
    description: str = key("", "A sentence about what you want to achieve; its words count toward topic relevance.")
    keywords: list[str] = key([], "Words or phrases that mark a subject or meeting title as relevant.")
    organizations: list[str] = key([], "Organisation names relevant to the goal (matched against names and domains).")
    domains: list[str] = key([], "E-mail domains of relevant organisations, e.g. \"bank.example\".")
    weight: float = key(1.0, "Relative importance of this goal (any positive number).", bounds=(1e-6, 1e6))


@dataclass(frozen=True)
class Person:
    name: str = key("", "Display name for this person.")
    addresses: list[str] = key([], "Addresses that belong to the same person; they are merged into one contact.", required=True)


GOOGLE = ("gmail", "google_calendar")
MICROSOFT = ("outlook", "outlook_calendar")
IMAP = ("imap",)
CALDAV = ("caldav",)
PASSWORD = IMAP + CALDAV        # sources that log in with a password (an app password)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class SourceConfig:
    type: str = key(None, "Kind of source: mbox, maildir, ics, gmail, google_calendar, outlook, outlook_calendar, "
                          "imap or caldav.",
                    required=True, choices=SOURCE_TYPES)
    name: str = key(None, "A unique name for this source, e.g. \"work-mail\".", required=True)
    enabled: bool = key(True, "Set to false to keep a source configured but not synced.")
    interval: int = key(15, "Minutes between syncs of this source when the daemon runs.", bounds=(1, 10080))
    path: str = key("", "File or folder to read; relative to this config file.", types=LOCAL_SOURCE_TYPES)
    sent_folders: list[str] = key([], "Extra folder names that hold your sent mail (common names are known).",
                                  types=("mbox", "maildir", "imap"))
    credentials: str = key("", "Google: the OAuth client secrets JSON you downloaded (see README).", types=GOOGLE)
    token: str = key("", "Google: where the OAuth token is kept (default: in your state directory).", types=GOOGLE)
    api_endpoint: str = key("", "Google: API base URL override, for proxies and tests (default: Google's).", types=GOOGLE)
    token_uri: str = key("", "Google: OAuth token endpoint override (default: Google's).", types=GOOGLE)
    quota_units_per_minute: int = key(6000, "Gmail: per-user quota units per minute to stay within.", types=("gmail",),
                                      bounds=(1, 1_000_000))
    calendars: list[str] = key(["primary"], "Google Calendar: calendar ids to read. CalDAV: calendar names or URLs "
                                            "to read; \"primary\" (the default) reads every calendar of the account.",
                               types=("google_calendar", "caldav"))
    client_id: str = key("", "Microsoft: application (client) id of your app registration.", types=MICROSOFT)
    authority: str = key("https://login.microsoftonline.com/common",
                         "Microsoft: authority URL (common, organizations, consumers, a tenant, a national cloud).",
                         types=MICROSOFT)
    token_cache: str = key("", "Microsoft: where the MSAL token cache is kept (default: in your state directory).",
                           types=MICROSOFT)
    delivery_client_id: str = key("", "Outlook: application (client) id of a second app registration, used only to put "
                                      "the digest into your inbox (Mail.ReadWrite), so that the sign-in the sync uses "
                                      "keeps read-only permissions (see README).", types=("outlook",))
    delivery_token_cache: str = key("", "Outlook: where the delivery app's MSAL token cache is kept (default: in your "
                                        "state directory).", types=("outlook",))
    graph_endpoint: str = key("https://graph.microsoft.com", "Microsoft: Graph base URL (national clouds, tests).",
                              types=MICROSOFT)
    folders: list[str] = key([], "Mail folders to read. Outlook: well-known names such as inbox, sentitems, "
                                 "archive, or folder ids; empty: every folder except drafts, deleted items, junk and "
                                 "outbox. IMAP: folder names as the server lists them; empty: every folder but drafts, "
                                 "junk and trash.", types=("outlook", "imap"))
    all_folders: bool = key(False, "Outlook: read every mail folder except drafts, deleted items, junk and outbox, "
                                   "even when `folders` names some.", types=("outlook",))
    days_back: int = key(730, "Outlook calendar: how many days of past events to read.", types=("outlook_calendar",),
                         bounds=(0, 3650))
    days_ahead: int = key(30, "Outlook calendar: how many days of future events to read.", types=("outlook_calendar",),
                          bounds=(1, 3650))
    host: str = key("", "IMAP: the server's name, e.g. imap.fastmail.com.", types=IMAP)
    port: int = key(993, "IMAP: the server's port (993 is IMAP over TLS).", types=IMAP, bounds=(1, 65535))
    username: str = key("", "IMAP, CalDAV: the login name, usually your address.", types=PASSWORD)
    tls: bool = key(True, "IMAP: connect over TLS; false (no encryption) only to 127.0.0.1 or localhost.", types=IMAP)
    starttls: bool = key(False, "IMAP: connect to the plain IMAP port (143 unless `port` says otherwise) and switch "
                                "to TLS with STARTTLS before logging in, for a server without a TLS port; a server "
                                "that does not offer STARTTLS is refused, never sent the password.", types=IMAP)
    password_file: str = key("", "IMAP, CalDAV: file holding the password (an app password), readable by you only "
                             "(default: `TYPE-NAME.password` in your state directory, written by `kith auth TYPE`).",
                             types=PASSWORD)
    password_env: str = key("", "IMAP, CalDAV: name of an environment variable holding the password, instead of a "
                                "file.", types=PASSWORD)
    ca_file: str = key("", "IMAP, CalDAV: a PEM file with the certificate to trust for this server (or its "
                           "authority's), instead of the system's: for a server of your own with a self-signed "
                           "certificate.", types=PASSWORD)
    url: str = key("", "CalDAV: the server's address as your provider gives it, e.g. "
                       "https://caldav.fastmail.com/dav/ (https; http only to 127.0.0.1 or localhost).", types=CALDAV)


@dataclass(frozen=True)
class PrivacyConfig:
    store_subjects: bool = key(True, "Store subjects and meeting titles (used for context and goals); false stores neither, "
                                      "only a hash of each subject to group conversations.")
    ignore_addresses: list[str] = key([], "Addresses never treated as contacts (bare, or as mail shows them: "
                                      "\"Anna <anna@x.example>\").")
    ignore_domains: list[str] = key([], "Domains never treated as contacts, with their subdomains (\"x.example\" or "
                                    "\"@x.example\").")


@dataclass(frozen=True)
class Config:
    path: Path
    user: UserConfig
    storage: StorageConfig
    digest: DigestConfig
    privacy: PrivacyConfig
    goals: tuple[Goal, ...] = ()
    sources: tuple[SourceConfig, ...] = ()
    people: tuple[Person, ...] = ()

    @property
    def database_path(self) -> Path:
        return self.resolve(self.storage.database) if self.storage.database else paths.data_dir() / "kith.db"

    @property
    def digest_dir(self) -> Path:
        return self.resolve(self.digest.directory) if self.digest.directory else paths.data_dir() / "digests"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.user.timezone)

    def resolve(self, value: str) -> Path:
        """A path from the config: `~` expanded, relative to the config file's folder."""
        try:
            p = Path(value).expanduser()
        except RuntimeError:    # "~someone" for a user this system does not know
            raise ConfigError(f"cannot expand {value!r}: no such user's home folder", where=str(self.path),
                              fix="write the path in full, or as ~/…") from None
        return p if p.is_absolute() else (self.path.parent / p)


TABLES: dict[str, type] = {"user": UserConfig, "storage": StorageConfig, "digest": DigestConfig, "privacy": PrivacyConfig}
ARRAYS: dict[str, type] = {"goals": Goal, "sources": SourceConfig, "people": Person}
ANNOTATIONS = {"str": str, "int": int, "float": float, "bool": bool, "list[str]": list}
TYPE_EXAMPLES = {str: '"text"', int: "30", float: "1.0", bool: "true", list: '["a", "b"]'}


class _Locator:
    """Finds the line of a key in the TOML text, for error messages."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def line_of(self, section: str, index: int | None, name: str | None) -> int | None:
        header = re.compile(rf"^\s*\[\[\s*{section}\s*\]\]" if index is not None else rf"^\s*\[\s*{section}\s*\]")
        any_header = re.compile(r"^\s*\[")
        seen, start = -1, None
        for no, line in enumerate(self.lines, 1):
            if header.match(line):
                seen += 1
                if index is None or seen == index:
                    start = no
                    break
        if start is None:
            return None
        if name is None:
            return start
        for no in range(start + 1, len(self.lines) + 1):
            line = self.lines[no - 1]
            if any_header.match(line):
                break
            if re.match(rf"^\s*{re.escape(name)}\s*=", line):
                return no
        return start

    def where(self, section: str, index: int | None = None, name: str | None = None) -> str:
        line = self.line_of(section, index, name)
        return f"{self.path}:{line}" if line else str(self.path)


def _label(section: str, index: int | None, name: str | None = None) -> str:
    base = f"{section}[{index}]" if index is not None else section
    return f"{base}.{name}" if name else base


def _check_value(value: Any, f: Any, label: str, where: str) -> Any:
    origin = ANNOTATIONS[f.type]
    example = TYPE_EXAMPLES.get(origin, '"text"')
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    ok = isinstance(value, origin) and not (origin in (int, float) and isinstance(value, bool))
    if ok and origin is list:
        ok = all(isinstance(item, str) for item in value)
        example = '["a", "b"]'
    if not ok:
        raise ConfigError(f"{label} must be {_describe(origin)}", where=where, fix=f"write {f.name} = {example}")
    bounds = f.metadata.get("bounds")
    if bounds and not bounds[0] <= value <= bounds[1]:     # also false for NaN
        low, high = (f"{b:g}" for b in bounds)
        problem = "must be positive" if value <= 0 < bounds[0] else f"must be between {low} and {high}"
        raise ConfigError(f"{label} {problem}", where=where, fix=f"write {f.name} = {_default(f)}")
    choices = f.metadata.get("choices")
    items = value if isinstance(value, list) else [value]
    for item in items:
        if choices and item not in choices:
            raise ConfigError(f"{label} has unknown value {item!r}", where=where,
                              fix=f"use one of: {', '.join(choices)}")
    return value


def _describe(origin: type) -> str:
    return {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
            list: "a list of strings"}.get(origin, origin.__name__)


def _build(cls: type, data: Any, section: str, index: int | None, loc: _Locator) -> Any:
    where = loc.where(section, index)
    if not isinstance(data, dict):
        fix = f"write [[{section}]] blocks" if index is not None or section in ARRAYS else f"write a [{section}] table"
        raise ConfigError(f"{_label(section, index)} must be a table", where=where, fix=fix)
    known = {f.name: f for f in fields(cls)}
    for name in data:
        if name == "password" and cls is SourceConfig:
            raise ConfigError(f"{_label(section, index, name)}: a password is never written in the config",
                              where=loc.where(section, index, name),
                              fix=f"remove it, and run `kith auth {'caldav' if data.get('type') == 'caldav' else 'imap'}` to keep it in a file "
                                  "readable by you only, "
                                  "or name a file (password_file) or an environment variable (password_env)")
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
            raise ConfigError(f"unknown key {_label(section, index, name)}", where=loc.where(section, index, name), fix=fix)
    values = {}
    for name, f in known.items():
        if name in data:
            values[name] = _check_value(data[name], f, _label(section, index, name), loc.where(section, index, name))
        elif f.metadata.get("required"):
            raise ConfigError(f"{_label(section, index)} has no {name}", where=where,
                              fix=f"add {name} = {TYPE_EXAMPLES[ANNOTATIONS[f.type]]}  ({f.metadata['help']})")
    return cls(**values)


def parse(text: str, path: Path) -> Config:
    """Validate TOML text into a Config; raise ConfigError with file:line on any problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        reason = str(exc).split(" (at")[0]
        if line is None:    # "(at end of document)": a bracket or quote opened earlier is never closed
            last = max((n for n, text_line in enumerate(text.splitlines(), 1) if text_line.strip()), default=1)
            raise ConfigError(f"not valid TOML ({reason} at the end of the file)", where=f"{path}:{last}",
                              fix="close the bracket or quote that the last entries open") from None
        raise ConfigError(f"not valid TOML ({reason})", where=f"{path}:{line.group(1)}",
                          fix="check quotes, brackets and '=' on that line") from None
    loc = _Locator(path, text)
    allowed = [*TABLES, *ARRAYS]
    for name in data:
        if name not in allowed:
            close = difflib.get_close_matches(name, allowed, n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"known sections: {', '.join(allowed)}"
            raise ConfigError(f"unknown section {name!r}", where=loc.where(name) if loc.line_of(name, None, None) else str(path), fix=fix)
    tables = {name: _build(cls, data.get(name, {}), name, None, loc) for name, cls in TABLES.items()}
    arrays = {}
    for name, cls in ARRAYS.items():
        items = data.get(name, [])
        if not isinstance(items, list):
            raise ConfigError(f"{name} must be written as [[{name}]] blocks", where=loc.where(name), fix=f"replace [{name}] with [[{name}]]")
        arrays[name] = tuple(_build(cls, item, name, i, loc) for i, item in enumerate(items))
    arrays["sources"] = tuple(_plain_port(s, raw) for s, raw in zip(arrays["sources"], data.get("sources", [])))
    config = Config(path=path, **tables, **arrays)
    _validate(config, loc, data.get("sources", []))
    return config


def _plain_port(source: SourceConfig, written: dict) -> SourceConfig:
    """STARTTLS begins on the plain IMAP port: 143 when the config names none (993 is for TLS from the start)."""
    if source.type in IMAP and source.starttls and "port" not in written:
        return replace(source, port=143)
    return source


_HOLDS_ADDRESS = re.compile(r"[^@\s<]+@[^@\s>]+")     # bare, or as mail shows it ("Anna <anna@x.org>")


def _validate(config: Config, loc: _Locator, raw_sources: list[dict]) -> None:
    """Checks that span keys: time formats, zones, unique names, paths, and source settings that cannot work
    (a Microsoft source without client_id, endpoints that are not URLs, delivery through no source)."""
    try:
        ZoneInfo(config.user.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"user.timezone {config.user.timezone!r} is not a known time zone",
                          where=loc.where("user", None, "timezone"), fix='write timezone = "Europe/Berlin" (an IANA name)') from None
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", config.digest.time):
        raise ConfigError(f"digest.time {config.digest.time!r} is not a time of day",
                          where=loc.where("digest", None, "time"), fix='write time = "07:30"')
    for index, goal in enumerate(config.goals):
        if not goal.name.strip() or goal.name != goal.name.strip() or not goal.name.isprintable():
            raise ConfigError(f"goals[{index}].name {goal.name!r} is empty, padded or has a line break",
                              where=loc.where("goals", index, "name"), fix='write name = "Investors" (shown in the digest)')
        for name in ("keywords", "organizations", "domains"):
            if any(not item.strip() for item in getattr(goal, name)):
                raise ConfigError(f"goals[{index}].{name} has an empty entry", where=loc.where("goals", index, name),
                                  fix="remove the empty string")
    for address in config.user.addresses:
        if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", address.strip()):    # me@localhost, jdoe@corp too
            raise ConfigError(f"user.addresses has {address!r}, which is not an address",
                              where=loc.where("user", None, "addresses"),
                              fix='write addresses = ["you@example.org"] (bare addresses, every one you use)')
    for index, source in enumerate(config.sources):
        if not source.name.strip() or source.name != source.name.strip() or not source.name.isprintable():
            raise ConfigError(f"sources[{index}].name {source.name!r} is empty, padded or has a line break",
                              where=loc.where("sources", index, "name"),
                              fix='write name = "mail" (it names the source in `kith status` and `kith forget`)')
    for address in config.privacy.ignore_addresses:
        if not _HOLDS_ADDRESS.search(address):
            raise ConfigError(f"privacy.ignore_addresses has {address!r}, which is not an address",
                              where=loc.where("privacy", None, "ignore_addresses"),
                              fix="write name@example.org; a whole domain goes in ignore_domains")
    for domain in config.privacy.ignore_domains:
        if not re.fullmatch(r"@?[\w-]+(\.[\w-]+)+", domain.strip()):
            raise ConfigError(f"privacy.ignore_domains has {domain!r}, which is not a domain",
                              where=loc.where("privacy", None, "ignore_domains"),
                              fix='write ignore_domains = ["example.org"] (a single address goes in ignore_addresses)')
    own = {a.strip().lower() for a in config.user.addresses}
    owner: dict[str, int] = {}
    for index, person in enumerate(config.people):
        for address in person.addresses:
            if not _HOLDS_ADDRESS.search(address):
                raise ConfigError(f"people[{index}].addresses has {address!r}, which is not an address",
                                  where=loc.where("people", index, "addresses"), fix="write name@example.org")
            if address.strip().lower() in own:
                raise ConfigError(f"people[{index}].addresses has {address!r}, one of your own addresses",
                                  where=loc.where("people", index, "addresses"),
                                  fix="list your own addresses under [user] addresses only")
            first = owner.setdefault(address.strip().lower(), index)
            if first != index:
                raise ConfigError(f"people[{index}] repeats {address!r}, already in people[{first}]",
                                  where=loc.where("people", index, "addresses"),
                                  fix="list each address under one person only")
    for kind, items in (("goals", config.goals), ("sources", config.sources)):
        # `--goal NAME` matches a goal in any case, so "Investors" and "investors" would be one goal
        names = [item.name.casefold() if kind == "goals" else item.name for item in items]
        for index, name in enumerate(names):
            if names.index(name) != index:
                raise ConfigError(f"{kind}[{index}].name {items[index].name!r} is used twice"
                                  + (" (goal names are matched in any case)" if kind == "goals" else ""),
                                  where=loc.where(kind, index, "name"), fix="give every entry its own name")
    places = [("storage", None, "database", config.storage.database), ("digest", None, "directory", config.digest.directory)]
    places += [("sources", i, name, getattr(source, name)) for i, source in enumerate(config.sources)
               for name in ("path", "credentials", "token", "token_cache", "delivery_token_cache", "password_file")]
    for section, index, name, value in places:
        if value.startswith("~") and not value.startswith(("~/", "~\\")) and value != "~":
            try:
                Path(value).expanduser()
            except RuntimeError:   # "~someone" for a user this system does not know
                raise ConfigError(f"{_label(section, index, name)} {value!r} names an unknown user's home folder",
                                  where=loc.where(section, index, name), fix="write the path in full, or as ~/…") from None
    if config.database_path.is_dir():
        raise ConfigError(f"storage.database {str(config.database_path)!r} is a folder, not a database file",
                          where=loc.where("storage", None, "database"),
                          fix='name a file in it, such as database = "~/.local/share/kith/kith.db"')
    for index, source in enumerate(config.sources):
        _check_type_keys(source, index, raw_sources[index], loc)
        if source.type in LOCAL_SOURCE_TYPES and not source.path:
            raise ConfigError(f"sources[{index}] ({source.type}) has no path", where=loc.where("sources", index),
                              fix='add path = "/path/to/mail"')
        if source.type in MICROSOFT and source.enabled and not source.client_id:
            raise ConfigError(f"sources[{index}] ({source.type}) has no client_id", where=loc.where("sources", index),
                              fix='add client_id = "…", the Application (client) ID of your app registration '
                                  '(README: Microsoft 365)')
        _check_urls(source, index, loc)
        if source.type in IMAP:
            _check_imap(source, index, loc)
        if source.type in CALDAV:
            _check_caldav(source, index, loc)
    _check_delivery_apps(config, loc)
    targets = {"gmail": GOOGLE[:1], "outlook": MICROSOFT[:1]}
    for target in config.digest.deliver:
        if target in targets and not any(s.type in targets[target] and s.enabled for s in config.sources):
            disabled = any(s.type in targets[target] for s in config.sources)
            raise ConfigError(f"digest.deliver has {target!r} but no enabled {target} source to deliver through",
                              where=loc.where("digest", None, "deliver"),
                              fix=(f'set enabled = true on the {target} source' if disabled else
                                   f'add a [[sources]] block with type = "{target}"') + f', or remove "{target}"')


def _check_imap(source: SourceConfig, index: int, loc: _Locator) -> None:
    """An IMAP source names its server and login, where its password is (never in the config), and sends that
    password unencrypted to no other machine."""
    _check_login(source, index, loc, ("host", '"imap.fastmail.com"'))
    host = source.host.strip()
    if re.search(r"[/\s]", host) or (host.count(":") == 1):
        raise ConfigError(f"sources[{index}].host {source.host!r} is not a server name",
                          where=loc.where("sources", index, "host"),
                          fix='write the name alone, e.g. host = "imap.fastmail.com", and the port in port = 993')
    if source.starttls and source.port == 993:
        raise ConfigError(f"sources[{index}] has starttls = true but port 993, where TLS starts at once",
                          where=loc.where("sources", index, "port"),
                          fix="remove starttls (port 993 is already encrypted), or set port to the server's plain "
                              "IMAP port (usually 143)")
    if source.starttls:
        return
    if not source.tls and source.host.strip().lower().strip("[]") not in LOOPBACK_HOSTS:
        raise ConfigError(f"sources[{index}].tls = false would send your password unencrypted to {source.host}",
                          where=loc.where("sources", index, "tls"),
                          fix="remove tls = false and use the server's TLS port (993), or set starttls = true for a "
                              "server that offers only port 143; plain IMAP is only for a server on this machine "
                              "(127.0.0.1, localhost)")
    if not source.tls and source.port == 993:
        raise ConfigError(f"sources[{index}] has tls = false but port 993, the port of IMAP over TLS",
                          where=loc.where("sources", index, "port"),
                          fix="set port to the server's plain IMAP port (usually 143), or remove tls = false")


def _check_caldav(source: SourceConfig, index: int, loc: _Locator) -> None:
    """A CalDAV source names its server's URL and login, where its password is, and sends that password
    unencrypted (http) to no other machine."""
    _check_login(source, index, loc, ("url", '"https://caldav.fastmail.com/dav/"'))
    url = source.url.strip()
    if "@" in re.sub(r"^[a-z]*:?/*", "", url, flags=re.IGNORECASE).split("/", 1)[0]:
        raise ConfigError(f"sources[{index}].url holds a login (not repeated here, in case it has the password)",
                          where=loc.where("sources", index, "url"),
                          fix="write the address without user@ or user:password@, the login in username, and run "
                              f"`kith auth caldav --source {source.name}` for the password")
    found = re.fullmatch(r"(https?)://(\[[^\]/]*\]|[^/\s:@]+)(:\d{1,5})?(/\S*)?", url, re.IGNORECASE)
    if url and not found:
        raise ConfigError(f"sources[{index}].url {source.url!r} is not an http(s) URL",
                          where=loc.where("sources", index, "url"),
                          fix='write the address your provider gives for CalDAV, e.g. url = '
                              '"https://caldav.fastmail.com/dav/"')
    if found and found[1].lower() == "http" and found[2].lower().strip("[]") not in LOOPBACK_HOSTS:
        raise ConfigError(f"sources[{index}].url {source.url!r} would send your password unencrypted",
                          where=loc.where("sources", index, "url"),
                          fix="use the https address; plain http is only for a server on this machine (127.0.0.1, "
                              "localhost)")


def _check_login(source: SourceConfig, index: int, loc: _Locator, server: tuple[str, str]) -> None:
    """The server and username a source that logs in with a password needs, and one place for the password."""
    where = loc.where("sources", index)
    for name, example in (server, ("username", '"you@example.org"')):
        if source.enabled and not getattr(source, name).strip():
            raise ConfigError(f"sources[{index}] ({source.type}) has no {name}", where=where,
                              fix=f"add {name} = {example}")
    if source.password_file and source.password_env:
        raise ConfigError(f"sources[{index}] ({source.type}) has both password_file and password_env",
                          where=loc.where("sources", index, "password_env"), fix="keep one of them")
    if source.password_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", source.password_env):
        raise ConfigError(f"sources[{index}].password_env is not the name of an environment variable (not repeated "
                          "here, in case it is the password)", where=loc.where("sources", index, "password_env"),
                          fix=f'write the name, not the password: password_env = "KITH_{source.type.upper()}_PASSWORD"')


def _check_delivery_apps(config: Config, loc: _Locator) -> None:
    """A delivery app keeps Mail.ReadWrite out of the sync's tokens only when it is an app registration no
    source syncs with: Microsoft puts every permission consented to for an app into each of its tokens."""
    sync_apps: dict[str, int] = {}
    for index, source in enumerate(config.sources):
        if source.type in MICROSOFT and source.client_id:
            sync_apps.setdefault(source.client_id.strip().lower(), index)
    for index, source in enumerate(config.sources):
        other = sync_apps.get(source.delivery_client_id.strip().lower()) if source.delivery_client_id else None
        if other is not None:
            whose = "its own client_id" if other == index else f"the client_id of sources[{other}]"
            raise ConfigError(f"sources[{index}].delivery_client_id is {whose}",
                              where=loc.where("sources", index, "delivery_client_id"),
                              fix="register a second app, for delivery only (README: Microsoft 365), and write its "
                                  "Application (client) ID here; with one app, the token the sync uses can change "
                                  "mail too")


URL_KEYS = ("api_endpoint", "token_uri", "authority", "graph_endpoint")


def _check_urls(source: SourceConfig, index: int, loc: _Locator) -> None:
    """Endpoint overrides are URLs; the Graph one is the service root, to which Kith adds the version."""
    for name in URL_KEYS:
        value, secure = getattr(source, name), name == "authority"        # MSAL refuses a plain http authority
        needed = source.type in MICROSOFT and name in ("authority", "graph_endpoint")   # no Google-style default
        if (value or needed) and not re.fullmatch(("https" if secure else "https?") + r"://[^/\s]+(/\S*)?", value,
                                                  re.IGNORECASE):
            raise ConfigError(f"sources[{index}].{name} {value!r} is not an {'https' if secure else 'http(s)'} URL",
                              where=loc.where("sources", index, name), fix=f"write {name} = {_default_url(name)}")
    if re.search(r"/(v1\.0|beta)/?$", source.graph_endpoint):
        raise ConfigError(f"sources[{index}].graph_endpoint {source.graph_endpoint!r} ends with an API version",
                          where=loc.where("sources", index, "graph_endpoint"),
                          fix="remove the version (Kith adds /v1.0), e.g. https://graph.microsoft.com")


def _default_url(name: str) -> str:
    default = next(f for f in fields(SourceConfig) if f.name == name).default
    return f'"{default}"' if default else '"https://…"'


def _check_type_keys(source: SourceConfig, index: int, written: dict, loc: _Locator) -> None:
    """A key meant for another kind of source is a mistake worth pointing out, even when it holds the default."""
    for f in fields(SourceConfig):
        types = f.metadata.get("types")
        if types and source.type not in types and f.name in written:
            raise ConfigError(f"sources[{index}].{f.name} does not apply to type {source.type!r}",
                              where=loc.where("sources", index, f.name),
                              fix=f"remove it (it is for {', '.join(types)} sources)")


def _default(f: Any) -> Any:
    return f.default_factory() if callable(f.default_factory) else f.default


def _shell_word(path: Path) -> str:
    """A path as the user can paste it into a shell."""
    import shlex
    return shlex.quote(str(path))


def load(path: Path) -> Config:
    """Read and validate the config file at `path`."""
    try:
        text = path.read_text(encoding="utf-8-sig")     # a byte-order mark (Windows editors) is not an error
    except FileNotFoundError:
        from daemon.paths import default_config_path
        init = "kith init" if path == default_config_path() else f"kith --config {_shell_word(path)} init"
        raise ConfigError("no config file here", where=str(path),
                          fix=f"run `{init}` to write one there, or pass --config PATH") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config ({exc.__class__.__name__})", where=str(path),
                          fix="check the file's permissions and that it is UTF-8 text") from None
    return parse(text, path.resolve())


def all_keys() -> list[str]:
    """Every documented key as `section.key`, for the docs tests and `kith init`."""
    result = []
    for name, cls in [*TABLES.items(), *ARRAYS.items()]:
        result += [f"{name}.{f.name}" for f in fields(cls)]
    return result


def reference_markdown() -> str:
    """The config reference table in README.md, generated from this schema (a test keeps them equal)."""
    lines = ["| key | default | meaning |", "| --- | --- | --- |"]
    for name, cls in [*TABLES.items(), *ARRAYS.items()]:
        for f in fields(cls):
            default = "required" if f.metadata.get("required") else _show_default(_default(f))
            types = f.metadata.get("types")
            meaning = f.metadata["help"] + (f" ({', '.join(types)})" if types and name == "sources" else "")
            bounds = f.metadata.get("bounds")
            if bounds and f.type == "int":
                meaning += f" From {bounds[0]:,} to {bounds[1]:,}."
            section = f"[[{name}]]" if name in ARRAYS else f"[{name}]"
            lines.append(f"| `{section}` `{f.name}` | {default} | {meaning} |")
    return "\n".join(lines) + "\n"


def _show_default(value: Any) -> str:
    if value == "":
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return "`[" + ", ".join(f'"{v}"' for v in value) + "]`"
    return f'`"{value}"`' if isinstance(value, str) else f"`{value}`"
