"""Signing in to an IMAP server (with the password passwords.py finds), and every way that can fail as one
line that says what to fix."""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, IMAPClientAbortError, IMAPClientError, LoginError

from connectors import tls
from connectors.passwords import source_key
from daemon.config import Config, SourceConfig
from daemon.errors import AuthError, SourceError

TIMEOUT = 60            # seconds to connect, and to wait for any one answer


def try_login(source: SourceConfig, config: Config, password: str) -> None:
    """Log in and out again: AuthError when the server refuses the password, SourceError when it cannot
    be reached."""
    with signed_in(source, password, ssl_context=tls_context(source, config)):
        pass


def tls_context(source: SourceConfig, config: Config) -> ssl.SSLContext | None:
    """The certificates to trust (`ca_file`, else the system's) when the connection is encrypted, at once or
    by STARTTLS; None for plain IMAP (to this machine only)."""
    return tls.context(source, config) if source.tls or source.starttls else None


@contextmanager
def signed_in(source: SourceConfig, password: str, *, ssl_context: ssl.SSLContext | None = None,
              timeout: float = TIMEOUT) -> Iterator[IMAPClient]:
    """A client logged in to the source's server, logged out afterwards; every failure, while connecting
    or later in the `with` block, is raised as a one-line SourceError (AuthError for a refused login)."""
    with imap_errors(source):
        context = (ssl_context or ssl.create_default_context()) if source.tls or source.starttls else None
        at_once = source.tls and not source.starttls
        client = IMAPClient(source.host.strip(), port=source.port, ssl=at_once, ssl_context=context if at_once else None,
                            timeout=timeout)
        try:
            client.normalise_times = False          # INTERNALDATE with its zone, not as naive local time
            if source.starttls:
                _start_tls(client, source, context)
            client.login(source.username, password)
            yield client
        finally:
            try:
                client.logout()
            except (IMAPClientError, OSError):      # the connection is gone already: nothing to close
                pass


def _start_tls(client: IMAPClient, source: SourceConfig, context: ssl.SSLContext) -> None:
    """Encrypt the plain connection before the password goes out; a server that cannot is left unasked."""
    try:
        client.starttls(context)
    except CapabilityError:
        raise SourceError(f"{source.host}:{source.port} does not offer STARTTLS, so your password was not sent",
                          where=source_key(source),
                          fix="remove starttls and use the server's TLS port (993), as your provider documents it") \
            from None


@contextmanager
def imap_errors(source: SourceConfig) -> Iterator[None]:
    """IMAP, TLS and network exceptions as SourceError lines naming the server and the fix."""
    where, server = source_key(source), f"{source.host}:{source.port}"
    again = "the next sync resumes where this one stopped"
    try:
        yield
    except LoginError as exc:
        where_password = (f"the variable {source.password_env}" if source.password_env
                          else f"`kith auth imap --source {source.name}` to store it again")
        raise AuthError(f"{server} refused the login of {source.username} ({reason(exc)})", where=where,
                        fix=f"check username, and the password ({where_password}); most providers want an app "
                            "password made in their settings, not your usual one (README: IMAP)") from None
    except ssl.SSLCertVerificationError as exc:
        fix = ("check host: it must be the name on the server's certificate, as your provider documents it"
               if "mismatch" in str(exc.verify_message) else "the server's certificate is not signed by an authority "
               "this system trusts: for a server of your own, name its certificate in ca_file (README: IMAP)")
        raise SourceError(f"the TLS certificate of {server} is not trusted ({exc.verify_message})", where=where,
                          fix=fix) from None
    except ssl.SSLError as exc:
        fix = ("check port: with starttls it is the server's plain IMAP port (usually 143), whose STARTTLS must "
               "work; or remove starttls and use port 993" if source.starttls else
               "check port: 993 is IMAP over TLS; a port that speaks plain IMAP (143) does not work with tls, but "
               "starttls = true does")
        raise SourceError(f"TLS with {server} failed ({exc.reason or exc.__class__.__name__})", where=where,
                          fix=fix) from None
    except socket.gaierror:
        raise SourceError(f"cannot find the server {source.host} (no such name, or no network)", where=where,
                          fix="check host, and your network connection") from None
    except ConnectionRefusedError:
        ports = "143 is plain IMAP, switched to TLS by starttls" if source.starttls else "993 is IMAP over TLS"
        raise SourceError(f"{server} refused the connection", where=where,
                          fix=f"check host and port ({ports})") from None
    except TimeoutError:
        port = " (with starttls, the plain IMAP port: usually 143, not 993)" if source.starttls else ""
        raise SourceError(f"{server} did not answer within {TIMEOUT} seconds", where=where,
                          fix=f"check host, port{port} and your network; {again}") from None
    except IMAPClientAbortError as exc:
        raise SourceError(f"the connection to {server} broke ({reason(exc)})", where=where, fix=again) from None
    except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:   # the server hung up mid-write
        raise SourceError(f"the connection to {server} broke ({exc.strerror or exc.__class__.__name__})",
                          where=where, fix=again) from None
    except IMAPClientError as exc:
        raise SourceError(f"{server} refused a request ({reason(exc)})", where=where, fix=again) from None
    except OSError as exc:
        raise SourceError(f"cannot reach {server} ({exc.strerror or exc.__class__.__name__})", where=where,
                          fix=f"check host, port and your network; {again}") from None


def reason(exc: Exception) -> str:
    """The server's words from an imapclient exception, on one line: `b'[AUTHENTICATIONFAILED] …'` unquoted."""
    text = " ".join(re.sub(r"""\bb(['"])(.*)\1""", r"\2", str(exc)).split())
    return text[:200] or exc.__class__.__name__
