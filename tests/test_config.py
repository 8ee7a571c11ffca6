"""The config: one schema, every key documented, every mistake a one-line error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from daemon import config as cfg
from daemon.errors import ConfigError
from daemon.starter import starter_config

ROOT = Path(__file__).resolve().parent.parent


def load_text(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return cfg.load(path)


def error_of(tmp_path, text) -> str:
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    assert info.value.exit_code == 2
    message = info.value.line()
    assert "\n" not in message
    return message


def test_the_example_config_loads_and_points_at_the_sample():
    config = cfg.load(ROOT / "config.example.toml")
    assert config.user.timezone == "Europe/Berlin"
    assert [s.type for s in config.sources] == ["maildir", "ics"]
    assert config.resolve(config.sources[0].path) == ROOT / "examples" / "mail"
    assert len(config.goals) == 3 and config.goals[0].weight == 2.0


def test_the_starter_config_loads(tmp_path):
    config = load_text(tmp_path, starter_config())
    assert config.sources == () and config.goals[0].name


@pytest.mark.parametrize("document", ["config.example.toml", "README.md"])
def test_every_key_is_documented(document):
    text = (ROOT / document).read_text(encoding="utf-8")
    missing = [k for k in cfg.all_keys() if not re.search(rf"\b{re.escape(k.split('.')[1])}\b", text)]
    assert missing == []
    sections = {k.split(".")[0] for k in cfg.all_keys()}
    assert all(f"[{s}]" in text or f"[[{s}]]" in text for s in sections)


def test_defaults_apply_when_sections_are_missing(tmp_path):
    config = load_text(tmp_path, "")
    assert config.digest.minutes == 30 and config.user.timezone == "UTC"
    assert config.database_path.name == "kith.db"


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    config = load_text(tmp_path, '[storage]\ndatabase = "data/k.db"\n')
    assert config.database_path == tmp_path / "data" / "k.db"


def test_unknown_key_suggests_the_right_one(tmp_path):
    message = error_of(tmp_path, '[user]\nname = "A"\nadresses = ["a@b.example"]\n')
    assert "config.toml:3" in message and "user.adresses" in message and "did you mean 'addresses'" in message


def test_unknown_section_suggests_the_right_one(tmp_path):
    message = error_of(tmp_path, '[digests]\nminutes = 20\n')
    assert "digests" in message and "did you mean 'digest'" in message


def test_wrong_type_names_key_line_and_fix(tmp_path):
    message = error_of(tmp_path, '[[goals]]\nname = "Investors"\nkeywords = "seed"\n')
    assert "config.toml:3" in message and "goals[0].keywords must be a list of strings" in message
    assert 'keywords = ["a", "b"]' in message


def test_a_number_where_text_is_expected(tmp_path):
    message = error_of(tmp_path, '[digest]\nminutes = "thirty"\n')
    assert "digest.minutes must be a whole number" in message and "config.toml:2" in message


def test_missing_required_key(tmp_path):
    message = error_of(tmp_path, '[[sources]]\ntype = "mbox"\npath = "x.mbox"\n')
    assert "sources[0] has no name" in message and "config.toml:1" in message


def test_unknown_source_type(tmp_path):
    message = error_of(tmp_path, '[[sources]]\ntype = "mbx"\nname = "a"\npath = "x"\n')
    assert "unknown value 'mbx'" in message and "mbox" in message


def test_local_source_without_path(tmp_path):
    assert "has no path" in error_of(tmp_path, '[[sources]]\ntype = "mbox"\nname = "a"\n')


def test_invalid_toml_gives_the_line(tmp_path):
    message = error_of(tmp_path, '[user]\nname = "unterminated\n')
    assert "config.toml:2" in message and "not valid TOML" in message
    for cut_short in ('[user]\naddresses = ["me@x.example"\n', '[user]\naddresses = ["me@x.example",\n\n'):
        message = error_of(tmp_path, cut_short)     # tomllib names no line: "at end of document"
        assert "config.toml:2" in message and "at the end of the file" in message and "close the bracket" in message


def test_bad_timezone_and_time(tmp_path):
    assert "not a known time zone" in error_of(tmp_path, '[user]\ntimezone = "Mars/Olympus"\n')
    assert "not a time of day" in error_of(tmp_path, '[digest]\ntime = "7.30"\n')


def test_duplicate_source_names(tmp_path):
    text = '[[sources]]\ntype = "mbox"\nname = "a"\npath = "x"\n[[sources]]\ntype = "ics"\nname = "a"\npath = "y"\n'
    message = error_of(tmp_path, text)
    assert "used twice" in message and "config.toml:7" in message


def test_goal_names_differing_only_in_case_are_the_same_goal(tmp_path):
    message = error_of(tmp_path, '[[goals]]\nname = "Investors"\n[[goals]]\nname = "investors"\n')
    assert "'investors' is used twice (goal names are matched in any case)" in message and "config.toml:4" in message


def test_missing_file_says_how_to_create_one(tmp_path):
    with pytest.raises(ConfigError) as info:
        cfg.load(tmp_path / "nope.toml")
    assert f"kith --config {tmp_path / 'nope.toml'} init" in info.value.line()


def test_readme_config_reference_matches_the_schema():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("\n", text.index("<!-- config-reference:start")) + 1
    end = text.index("<!-- config-reference:end")
    assert text[start:end] == cfg.reference_markdown()


@pytest.mark.parametrize("text, says", [
    ('[digest]\nrepeat_days = 99999999999\n', "digest.repeat_days must be between 0 and 3650"),
    ('[digest]\nminutes = 0\n', "digest.minutes must be positive"),
    ('[[goals]]\nname = "A"\nweight = nan\n', "goals[0].weight must be between"),
    ('[[goals]]\nname = "A"\nweight = inf\n', "goals[0].weight must be between"),
    ('[[sources]]\ntype = "mbox"\nname = "m"\npath = "x"\ninterval = 999999999999\n',
     "sources[0].interval must be between 1 and 10080"),
    ('[[sources]]\ntype = "outlook_calendar"\nname = "c"\nclient_id = "x"\ndays_back = -10\n',
     "sources[0].days_back must be between 0 and 3650"),
    ('[[goals]]\nname = " spaced "\n', "is empty, padded or has a line break"),
    ('[[goals]]\nname = ""\n', "is empty, padded or has a line break"),
    ('[[goals]]\nname = "two\\nlines"\n', "is empty, padded or has a line break"),
    ('[[people]]\nname = "A"\naddresses = ["a@x.example"]\n[[people]]\nname = "B"\naddresses = ["A@x.example"]\n',
     "people[1] repeats 'A@x.example', already in people[0]"),
    ('[[people]]\nname = "A"\n', 'add addresses = ["a", "b"]'),
    ('[privacy]\nignore_addresses = ["paybridge.example"]\n', "which is not an address"),
    ('[user]\naddresses = ["not an address"]\n', "user.addresses has 'not an address', which is not an address"),
    ('[user]\naddresses = ["Sam <sam@x.example>"]\n', "which is not an address"),
    ('[[sources]]\ntype = "mbox"\nname = ""\npath = "x"\n', "sources[0].name '' is empty, padded"),
    ('[[sources]]\ntype = "maildir"\nname = "m"\npath = "~no-such-user-here/Mail"\n',
     "sources[0].path '~no-such-user-here/Mail' names an unknown user's home folder"),
])
def test_numbers_names_and_lists_out_of_range_are_one_line_errors(tmp_path, text, says):
    message = error_of(tmp_path, text)
    assert says in message and "\n" not in message.strip()


OUTLOOK = '[[sources]]\ntype = "outlook"\nname = "o"\nclient_id = "00000000-0000-0000-0000-000000000000"\n'


def test_a_database_path_that_is_a_folder_names_its_line(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(f'[user]\naddresses = ["me@x.example"]\n\n[storage]\ndatabase = "{tmp_path}"\n')
    with pytest.raises(ConfigError, match="is a folder, not a database file") as caught:
        cfg.load(path)
    assert f"{path}:5" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("text, says, line", [
    ('[[sources]]\ntype = "outlook"\nname = "o"\n', "sources[0] (outlook) has no client_id", 1),
    (OUTLOOK + 'authority = "not a url"\n', "sources[0].authority 'not a url' is not an https URL", 5),
    (OUTLOOK + 'graph_endpoint = "https://graph.microsoft.com/v1.0"\n', "ends with an API version", 5),
    (OUTLOOK + 'authority = ""\n', "sources[0].authority '' is not an https URL", 5),
    ('[[sources]]\ntype = "gmail"\nname = "g"\napi_endpoint = "127.0.0.1:8080"\n', "is not an http(s) URL", 4),
    ('[digest]\ndeliver = ["file", "outlook"]\n', "digest.deliver has 'outlook' but no enabled outlook source", 2),
    ('[digest]\ndeliver = ["gmail"]\n[[sources]]\ntype = "gmail"\nname = "g"\nenabled = false\n',
     'no enabled gmail source to deliver through — set enabled = true on the gmail source, or remove "gmail"', 2),
    ('[[sources]]\ntype = "maildir"\nname = "m"\npath = "x"\ncalendars = ["primary"]\n',
     "sources[0].calendars does not apply to type 'maildir'", 5),
    (OUTLOOK + 'delivery_client_id = "00000000-0000-0000-0000-000000000000"\n',
     "sources[0].delivery_client_id is its own client_id — register a second app, for delivery only", 5),
    (OUTLOOK + 'delivery_client_id = "11111111-1111-1111-1111-111111111111"\n[[sources]]\ntype = "outlook_calendar"\n'
     'name = "c"\nclient_id = "11111111-1111-1111-1111-111111111111"\n',
     "sources[0].delivery_client_id is the client_id of sources[1] — register a second app", 5),
    ('[[sources]]\ntype = "outlook_calendar"\nname = "c"\nclient_id = "x"\ndelivery_client_id = "y"\n',
     "sources[0].delivery_client_id does not apply to type 'outlook_calendar' — remove it (it is for outlook "
     "sources)", 5),
])
def test_source_settings_that_cannot_work_are_errors_at_load(tmp_path, text, says, line):
    message = error_of(tmp_path, text)
    assert says in message and f"config.toml:{line}" in message


def test_a_local_endpoint_and_delivery_through_a_configured_source_load(tmp_path):
    config = load_text(tmp_path, '[digest]\ndeliver = ["file", "outlook"]\n' + OUTLOOK
                       + 'graph_endpoint = "http://127.0.0.1:8080/graph"\nauthority = "https://127.0.0.1:8443/tenant"\n')
    assert config.sources[0].graph_endpoint == "http://127.0.0.1:8080/graph"
    apart = load_text(tmp_path, '[digest]\ndeliver = ["file", "outlook"]\n' + OUTLOOK
                      + 'delivery_client_id = "11111111-1111-1111-1111-111111111111"\n')
    assert apart.sources[0].delivery_client_id.startswith("1111") and apart.sources[0].delivery_token_cache == ""
    kept = load_text(tmp_path, '[[sources]]\ntype = "outlook"\nname = "o"\nenabled = false\n'   # a skeleton
                     'graph_endpoint = "HTTPS://GRAPH.MICROSOFT.COM"\n')
    assert not kept.sources[0].enabled


def test_a_byte_order_mark_is_not_an_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'[user]\ntimezone = "Europe/Berlin"\n')
    assert cfg.load(path).user.timezone == "Europe/Berlin"


def test_a_home_folder_of_an_unknown_user_is_a_config_error(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[storage]\ndatabase = "~no-such-user-here/kith.db"\n')
    with pytest.raises(ConfigError, match="storage.database '~no-such-user-here/kith.db' names an unknown user's"):
        cfg.load(path)


@pytest.mark.parametrize("text, says, line", [
    ('[privacy]\nignore_domains = ["not a domain!"]\n', "privacy.ignore_domains has 'not a domain!', which is not a domain", 2),
    ('[user]\naddresses = ["me@x.example"]\n[[people]]\nname = "A"\naddresses = ["not an address"]\n',
     "people[0].addresses has 'not an address', which is not an address", 5),
    ('[user]\naddresses = ["me@x.example"]\n[[people]]\nname = "Me"\naddresses = ["Me@x.example", "a@y.example"]\n',
     "people[0].addresses has 'Me@x.example', one of your own addresses", 5),
    ('[[goals]]\nname = "Boards"\nkeywords = ["board", ""]\n', "goals[0].keywords has an empty entry", 3),
])
def test_lists_of_addresses_domains_and_keywords_are_checked(tmp_path, text, says, line):
    message = error_of(tmp_path, text)
    assert says in message and f"config.toml:{line}" in message


def test_well_formed_lists_pass(tmp_path):
    (tmp_path / "config.toml").write_text('[user]\naddresses = ["me@x.example"]\n[privacy]\n'
                                          'ignore_domains = ["@news.example", "mail.bank.example"]\n'
                                          '[[people]]\nname = "Anna"\naddresses = ["Anna <anna@y.example>"]\n')
    assert cfg.load(tmp_path / "config.toml").privacy.ignore_domains == ["@news.example", "mail.bank.example"]


IMAP = '[[sources]]\ntype = "imap"\nname = "fastmail"\nhost = "imap.fastmail.com"\nusername = "me@fastmail.com"\n'


def test_an_imap_source_has_tls_on_port_993_and_reads_every_folder_by_default(tmp_path):
    config = load_text(tmp_path, IMAP + '\n[[sources]]\ntype = "outlook"\nname = "o"\nclient_id = "x"\n')
    imap, outlook = config.sources
    assert (imap.port, imap.tls, imap.folders, imap.password_file, imap.password_env) == (993, True, [], "", "")
    assert outlook.folders == []                              # Outlook too: every folder but drafts, junk, trash


@pytest.mark.parametrize("extra, line, wanted", [
    ('password = "hunter2"\n', 6, "sources[0].password: a password is never written in the config — remove it"),
    ('password_file = "~/p"\npassword_env = "P"\n', 7, "has both password_file and password_env"),
    ('password_env = "hunter2!"\n', 6, "is not the name of an environment variable"),
    ('tls = false\n', 6, "tls = false would send your password unencrypted to imap.fastmail.com"),
    ('port = 99999\n', 6, "sources[0].port must be between 1 and 65535"),
    ('path = "~/Mail"\n', 6, "sources[0].path does not apply to type 'imap'"),
])
def test_imap_mistakes_are_one_line_errors(tmp_path, extra, line, wanted):
    message = error_of(tmp_path, IMAP + extra)
    assert f"config.toml:{line}" in message and wanted in message
    assert "hunter2" not in message


def test_plain_imap_on_the_tls_port_says_which_port(tmp_path):
    """tls = false to a server on this machine, the port left at 993: the error names 143, not a refusal later."""
    local = IMAP.replace('"imap.fastmail.com"', '"127.0.0.1"')
    message = error_of(tmp_path, local + "tls = false\n")
    assert "tls = false but port 993, the port of IMAP over TLS" in message and "usually 143" in message
    assert load_text(tmp_path, local + "tls = false\nport = 143\n").sources[0].port == 143


def test_starttls_uses_the_plain_port_and_may_go_to_any_server(tmp_path):
    """STARTTLS encrypts before the login, so a remote host is fine; its port is 143 unless written, and 993
    (TLS at once) with starttls is a mistake named at load, not a confusing TLS failure later."""
    source = load_text(tmp_path, IMAP + "starttls = true\n").sources[0]
    assert (source.starttls, source.port) == (True, 143)
    assert load_text(tmp_path, IMAP + "starttls = true\nport = 1143\n").sources[0].port == 1143
    assert load_text(tmp_path, IMAP + "starttls = true\ntls = false\n").sources[0].port == 143
    message = error_of(tmp_path, IMAP + "starttls = true\nport = 993\n")
    assert "config.toml:7" in message and "starttls = true but port 993" in message and "usually 143" in message
    assert "starttls = true" in error_of(tmp_path, IMAP + "tls = false\n")        # the fix names the other way


@pytest.mark.parametrize("host", ["imaps://imap.fastmail.com", "imap.fastmail.com:993", "imap fastmail"])
def test_an_imap_host_is_a_name_alone(tmp_path, host):
    message = error_of(tmp_path, IMAP.replace('"imap.fastmail.com"', f'"{host}"'))
    assert "config.toml:4" in message and "is not a server name" in message and "port = 993" in message


def test_an_imap_source_needs_a_host_and_a_username_and_plain_imap_stays_on_this_machine(tmp_path):
    assert "(imap) has no host" in error_of(tmp_path, IMAP.replace('host = "imap.fastmail.com"\n', ""))
    assert "(imap) has no username" in error_of(tmp_path, IMAP.replace('username = "me@fastmail.com"\n', ""))
    for host in ("127.0.0.1", "localhost", "::1"):
        config = load_text(tmp_path, IMAP.replace("imap.fastmail.com", host) + "tls = false\nport = 1143\n")
        assert config.sources[0].tls is False
