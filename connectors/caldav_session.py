"""Signing in to a CalDAV server (with the password passwords.py finds), and every way that can fail as one
line that says what to fix."""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

import caldav
from caldav.elements import dav
from caldav.lib import error
from lxml.etree import XMLSyntaxError
from caldav.lib.http_sync import requests as http      # niquests (or requests): what caldav talks HTTP with

from connectors import tls
from connectors.passwords import source_key
from daemon.config import Config, SourceConfig
from daemon.errors import AuthError, SourceError

TIMEOUT = 60            # seconds to connect, and to wait for any one answer
# the library logs its guesses about a server, with tracebacks, as warnings and errors; Kith says what went
# wrong itself, in one line, and a log that quotes server answers could quote an event
logging.getLogger("caldav").setLevel(logging.CRITICAL)


class NotCalDAV(SourceError):
    """The URL answered, but not as a CalDAV server: a password sent there was checked by no one."""


def connect(source: SourceConfig, config: Config, password: str, *, timeout: float = TIMEOUT,
            features: dict | None = None) -> caldav.DAVClient:
    """A client for the source's server (no request made yet), at the URL as written: no DNS discovery
    (RFC 6764) behind the user's back; its certificate checked against `ca_file` alone when one is named."""
    authority = tls.ca_path(source, config)
    return caldav.DAVClient(source.url.strip(), username=source.username, password=password, timeout=timeout,
                            enable_rfc6764=False, features=features,
                            ssl_verify_cert=str(authority) if authority else True)


def try_login(source: SourceConfig, config: Config, password: str) -> None:
    """Find the account's calendars once: AuthError when the server refuses the password, SourceError when
    it cannot be reached or holds no CalDAV account at the URL."""
    with caldav_errors(source):
        account_calendars(source, connect(source, config, password))


def account_calendars(source: SourceConfig, client: caldav.DAVClient) -> list[caldav.Calendar]:
    """The account's calendars; SourceError when the URL answers with no account and no calendar, as a web
    page does (a Wi-Fi network's sign-in page, a provider's home page): nothing to read, and no password
    checked."""
    principal = client.get_principal()
    calendars = principal.get_calendars()
    if not calendars and principal.get_property(dav.CurrentUserPrincipal()) is None:
        raise NotCalDAV(f"{source.url.strip()} did not answer as a CalDAV server (no account, no calendars)",
                          where=source_key(source), fix="check url (a sign-in page of a Wi-Fi network answers "
                                                        "instead of the server too); the next sync tries again")
    return calendars


@contextmanager
def caldav_errors(source: SourceConfig) -> Iterator[None]:
    """CalDAV, HTTP, TLS and network exceptions as SourceError lines naming the server and the fix."""
    where, server = source_key(source), source.url.strip()
    again = "the next sync resumes where this one stopped"
    try:
        yield
    except error.AuthorizationError as exc:
        if status_of(exc) == 401:
            where_password = (f"the variable {source.password_env}" if source.password_env
                              else f"`kith auth caldav --source {source.name}` to store it again")
            raise AuthError(f"{server} refused the login of {source.username}", where=where,
                            fix=f"check username, and the password ({where_password}); most providers want an app "
                                "password made in their settings, not your usual one (README: CalDAV)") from None
        raise SourceError(f"{server} refused access ({reason(exc)})", where=where,
                          fix="check url: it must be your own account's address as your provider gives it") from None
    except error.NotFoundError:
        raise SourceError(f"no CalDAV account at {server}", where=where,
                          fix="check url: write the CalDAV address your provider documents (README: CalDAV)") from None
    except NotCalDAV:
        raise
    except error.DAVError as exc:
        status = status_of(exc)
        if status is not None and (status == 429 or status >= 500):
            raise SourceError(f"{server} is busy or failing (HTTP {status}: {reason(exc)})", where=where,
                              fix=f"nothing to do on your side; {again}") from None
        raise NotCalDAV(f"{server} did not answer as a CalDAV server ({reason(exc)})", where=where,
                          fix=f"check url (a sign-in page of a Wi-Fi network answers instead of the server too); "
                              f"{again}") from None
    except XMLSyntaxError:
        raise NotCalDAV(f"{server} did not answer as a CalDAV server (an answer that is not WebDAV XML)",
                          where=where, fix=f"check url (a sign-in page of a Wi-Fi network answers instead of the "
                                           f"server too); {again}") from None
    except http.exceptions.SSLError as exc:
        verify = _ssl_reason(exc)
        mismatch = "mismatch" in verify.lower() or "match" in str(exc)
        problem = ("is not for this name" if mismatch
                   else "is not trusted" if "certificate" in (verify + str(exc)).lower() else "failed")
        fix = ("check url: the name must be the one on the server's certificate, as your provider documents it"
               if mismatch or problem == "failed" else "check url; for a server of your own with a self-signed "
               "certificate, name that certificate in ca_file (README: CalDAV)")
        raise SourceError(f"TLS with {server} {problem} ({verify or 'TLS error'})", where=where, fix=fix) from None
    except http.exceptions.Timeout:
        raise SourceError(f"{server} did not answer within {TIMEOUT} seconds", where=where,
                          fix=f"check url and your network; {again}") from None
    except http.exceptions.ConnectionError as exc:
        text = str(exc).lower()
        if "refused" in text:
            raise SourceError(f"cannot reach {server} (connection refused)", where=where,
                              fix=f"check url (its port) and your network; {again}") from None
        if server.lower().startswith("http://") and ("closed connection" in text or "disconnected" in text):
            raise SourceError(f"{server} hung up on a plain http request", where=where,
                              fix="the server may speak https only: write the url with https://") from None
        if "name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
            raise SourceError(f"cannot find the server of {server} (no such name, or no network)", where=where,
                              fix=f"check url, and your network connection; {again}") from None
        raise SourceError(f"cannot reach {server} ({reason(exc)})", where=where,
                          fix=f"check url and your network; {again}") from None
    except http.exceptions.RequestException as exc:
        raise SourceError(f"the request to {server} failed ({reason(exc)})", where=where, fix=again) from None


def status_of(exc: Exception) -> int | None:
    """The HTTP status of a caldav error: 401 is a refused login, 403 a refused request."""
    if isinstance(getattr(exc, "status", None), int):
        return exc.status
    text = str(getattr(exc, "reason", "") or "")
    if "Unauthorized" in text or "401" in text:
        return 401
    return 403 if "Forbidden" in text or "403" in text else None


def _ssl_reason(exc: BaseException) -> str:
    """The certificate check's own words ("self-signed certificate", "Hostname mismatch, …") from deep in
    the HTTP library's exception, or ''."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            return str(item.verify_message or item.reason or "")
        if isinstance(item, ssl.SSLError):
            return str(item.reason or "")
        todo += [item.__cause__, item.__context__, *item.args, getattr(item, "reason", None)]
    return ""


def reason(exc: BaseException) -> str:
    """The gist of an exception on one line: its reason, without the URL the message already names."""
    text = str(getattr(exc, "reason", "") or "") or str(exc)
    text = re.sub(r"https?://\S+", "", text)
    return " ".join(text.split())[:160] or exc.__class__.__name__
