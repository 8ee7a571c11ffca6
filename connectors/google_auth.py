"""Google sign-in, and the API clients built on it, for the Gmail and Calendar connectors.

Installed-app OAuth with the user's own Desktop client: a loopback redirect when
a browser is at hand, otherwise a printed URL with paste-back (or an SSH port
forward). The token is `Credentials.to_json()` in a 0600 file; it refreshes by
itself and the refreshed token is saved again. Scopes are the least that work:
gmail.metadata and calendar.events.readonly to read, gmail.insert only when the
digest goes to the Gmail inbox. Nothing here can send mail.
"""

from __future__ import annotations

import http.client
import json
import logging
import queue
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qs, urlsplit

import google_auth_httplib2
import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import InstalledAppFlow, WSGITimeoutError
from oauthlib.oauth2.rfc6749.errors import AccessDeniedError, OAuth2Error
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from connectors.backoff import TokenBucket, WaitTooLong, parse_retry_after, wait_text, with_backoff
from daemon import paths
from daemon.config import Config, SourceConfig
from daemon.errors import AuthError, SourceError

log = logging.getLogger(__name__)

GMAIL_METADATA = "https://www.googleapis.com/auth/gmail.metadata"
GMAIL_INSERT = "https://www.googleapis.com/auth/gmail.insert"
CALENDAR_EVENTS = "https://www.googleapis.com/auth/calendar.events.readonly"
APIS = {  # name -> (version, Google's root URL, service path, batch path) from the shipped discovery documents
    "gmail": ("v1", "https://gmail.googleapis.com/", "", "batch"),
    "calendar": ("v3", "https://www.googleapis.com/", "calendar/v3/", "batch/calendar/v3"),
}
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
RETRY_STATUS = {429, 500, 502, 503, 504}
CLIENT_KEYS = ("client_id", "client_secret", "auth_uri", "token_uri")   # what a Desktop client JSON holds
PASTE_PORT = 8080
TIMEOUT = 60
# Temporary network failures: refused or dropped connections and timeouts (OSError, httplib2's
# own errors), and an answer cut off mid-body (http.client.IncompleteRead, which httplib2 lets through).
NETWORK_ERRORS = (OSError, httplib2.HttpLib2Error, http.client.HTTPException)
NETWORK_FIX = "check the network connection; the next sync resumes where this one stopped"


def source_key(source: SourceConfig) -> str:
    """Where a Google error happened: the source's key ("gmail:NAME"), which `kith sync` shows once."""
    return f"{source.type}:{source.name}"


def auth_fix(source: SourceConfig) -> str:
    return f"run `kith auth google --source {source.name}`"


def required_scopes(source: SourceConfig, config: Config) -> list[str]:
    """What this source needs, and nothing more."""
    if source.type == "google_calendar":
        return [CALENDAR_EVENTS]
    return [GMAIL_METADATA] + ([GMAIL_INSERT] if "gmail" in config.digest.deliver else [])


def token_path(source: SourceConfig, config: Config) -> Path:
    return config.resolve(source.token) if source.token else paths.state_dir() / f"google-{source.name}.json"


def token_scopes(source: SourceConfig, config: Config) -> list[str]:
    """Scopes to ask for: those of every Google source that shares this source's token file."""
    mine = token_path(source, config)
    wanted: list[str] = []
    for other in config.sources:
        if other.type in ("gmail", "google_calendar") and token_path(other, config) == mine:
            wanted += [s for s in required_scopes(other, config) if s not in wanted]
    return wanted or required_scopes(source, config)


# ---------------------------------------------------------------- the saved token

def load_credentials(source: SourceConfig, config: Config, *, need: list[str] | None = None,
                     refresh: bool = True) -> Credentials:
    """The saved credentials, refreshed (and saved again) when stale; AuthError when unusable."""
    path = token_path(source, config)
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuthError("not signed in to Google yet", where=source_key(source), fix=auth_fix(source)) from None
    except (OSError, ValueError) as exc:
        raise AuthError(f"cannot read the Google token ({exc.__class__.__name__})", where=str(path),
                        fix=auth_fix(source)) from None
    if not isinstance(info, dict):
        raise AuthError("cannot read the Google token (not a JSON object)", where=str(path), fix=auth_fix(source))
    try:
        creds = Credentials.from_authorized_user_info(info)
        granted = set(creds.scopes or ())
    except ValueError as exc:
        raise AuthError(f"the Google token is incomplete ({exc})", where=str(path), fix=auth_fix(source)) from None
    except (TypeError, AttributeError):   # google-auth assumes the right types: "expiry": 1 fails inside it
        raise AuthError("cannot read the Google token (a field has the wrong type)", where=str(path),
                        fix=auth_fix(source)) from None
    if source.token_uri:   # google-auth ignores a token_uri read from the file; only the config may move it
        expiry, creds = creds.expiry, creds.with_token_uri(source.token_uri)
        creds.expiry = expiry  # the copy forgets it, and a stale token would look fresh
    missing = [s for s in (need or required_scopes(source, config)) if s not in granted]
    if missing:
        raise AuthError(f"the Google token lacks the scope {', '.join(missing)}", where=source_key(source),
                        fix=auth_fix(source))
    if refresh and not creds.valid:
        with auth_errors(source):
            creds.refresh(Request())
        save_credentials(creds, path)
    return creds


def save_credentials(creds: Credentials, path: Path) -> None:
    paths.write_private(path, creds.to_json())


class Session:
    """Credentials in use plus where they live: saves the token again after a silent refresh."""

    def __init__(self, creds: Credentials, path: Path) -> None:
        self.creds, self.path, self._saved = creds, path, creds.token

    def persist(self) -> None:
        if self.creds.token != self._saved:
            save_credentials(self.creds, self.path)
            self._saved = self.creds.token


def authorized_http(source: SourceConfig, config: Config, *, need: list[str] | None = None
                    ) -> tuple[httplib2.Http, Session]:
    """An httplib2 transport that signs requests and refreshes the token when it expires."""
    creds = load_credentials(source, config, need=need)
    http = google_auth_httplib2.AuthorizedHttp(creds, http=httplib2.Http(timeout=TIMEOUT))
    return http, Session(creds, token_path(source, config))


@contextmanager
def auth_errors(source: SourceConfig) -> Iterator[None]:
    """Turn a refused refresh (revoked or expired grant) into one line that names the fix."""
    try:
        yield
    except RefreshError as exc:
        reason = str(exc.args[0] if exc.args else exc).splitlines()[0]
        raise AuthError(f"Google refused the saved sign-in ({reason})", where=source_key(source),
                        fix=auth_fix(source)) from None
    except TransportError as exc:
        raise SourceError(f"cannot reach Google's sign-in server ({exc.__class__.__name__})", where=source_key(source),
                          fix="check the network connection and sync again") from None


# ---------------------------------------------------------------- API clients

def root_url(api: str, source: SourceConfig) -> str:
    """Where every request goes: Google's root URL, or the configured override (proxies, tests)."""
    root = source.api_endpoint or APIS[api][1]
    return root if root.endswith("/") else root + "/"


def build_service(api: str, source: SourceConfig, http: httplib2.Http) -> Any:
    """A client from the discovery document shipped with the library (no network at build time)."""
    version, _, service_path, _ = APIS[api]
    options = {"api_endpoint": root_url(api, source) + service_path} if source.api_endpoint else None
    return build(api, version, http=http, client_options=options, static_discovery=True, cache_discovery=False)


def new_batch(api: str, source: SourceConfig, callback: Callable[..., None]) -> BatchHttpRequest:
    """A batch aimed at the same root as everything else: the library ignores api_endpoint for batches."""
    return BatchHttpRequest(callback=callback, batch_uri=root_url(api, source) + APIS[api][3])


def error_reason(exc: HttpError) -> str:
    try:
        return json.loads(exc.content)["error"]["errors"][0]["reason"]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def is_temporary(exc: HttpError) -> bool:
    if exc.resp is None:        # a BatchError about an answer the library could not parse
        return False
    status = exc.resp.status
    return status in RETRY_STATUS or (status == 403 and error_reason(exc) in RATE_REASONS)


def retry_after(exc: HttpError) -> float | None:
    return parse_retry_after(exc.resp.get("retry-after"))


def classify(exc: Exception) -> float | bool:
    """For `with_backoff`: temporary HTTP errors are retried (after Retry-After when given)."""
    if isinstance(exc, HttpError) and is_temporary(exc):
        wait = retry_after(exc)
        return True if wait is None else wait
    return isinstance(exc, NETWORK_ERRORS)


def execute(request: Any, source: SourceConfig, what: str, *, bucket: TokenBucket, cost: float = 1,
            sleep: Callable[[float], None] = time.sleep, attempts: int = 8, allow: tuple[int, ...] = ()) -> dict:
    """One request within the quota, temporary errors retried with backoff; others as one line.

    The client library's own retry ignores Retry-After, so it is off (num_retries=0).
    HTTP statuses in `allow` are re-raised as HttpError for the caller to handle.
    """
    def once() -> dict:
        bucket.take(cost)
        reply = request.execute(num_retries=0)
        if not isinstance(reply, dict):     # a Wi-Fi sign-in page or a proxy's answered instead: the client
            raise NotGoogle()               # hands back its text
        return reply
    try:
        return with_backoff(once, classify=classify, attempts=attempts, sleep=sleep)
    except HttpError as exc:
        if exc.resp.status in allow:
            raise
        raise http_problem(exc, source, what) from None
    except WaitTooLong as exc:
        raise wait_problem(source, what, exc.seconds) from None
    except NETWORK_ERRORS as exc:
        raise SourceError(f"cannot reach Google ({exc.__class__.__name__}) while reading {what}",
                          where=source_key(source), fix=NETWORK_FIX) from None
    except NotGoogle:
        raise SourceError(f"got an answer that is not from Google while reading {what}", where=source_key(source),
                          fix="sign in to the network's Wi-Fi portal in a browser, or check the proxy; "
                              "the next sync tries again") from None


class NotGoogle(Exception):
    """A reply that is no JSON object: not Google's API speaking."""


def wait_problem(source: SourceConfig, what: str, seconds: float) -> SourceError:
    """Google throttles and asks for a longer pause than one sync waits (see backoff.MAX_RETRY_AFTER)."""
    return SourceError(f"Google is throttling {what} and asks Kith to wait {wait_text(seconds)}",
                       where=source_key(source),
                       fix="nothing to do: the next sync after that wait resumes where this one stopped")


def http_problem(exc: HttpError, source: SourceConfig, what: str) -> SourceError:
    """A permanent HTTP error as a one-line SourceError (AuthError for 401 and scope refusals)."""
    status, reason = exc.resp.status, error_reason(exc)
    if status == 401 or reason in ("insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"):
        return AuthError(f"Google refused {what} ({status} {reason or 'unauthorised'})", where=source_key(source),
                         fix=auth_fix(source))
    if reason == "accessNotConfigured":
        return SourceError(f"the API for {what} is not enabled in your Google Cloud project", where=source_key(source),
                           fix="enable it in the Cloud console (APIs & Services → Library), then sync again")
    if is_temporary(exc):
        return SourceError(f"Google keeps refusing {what} ({status} {reason}); will try again later",
                           where=source_key(source), fix="nothing to do: the next sync resumes where this one stopped")
    return SourceError(f"Google answered {status} {reason} to {what}", where=source_key(source),
                       fix="check this source's settings in the config (api_endpoint, calendars)")


# ---------------------------------------------------------------- interactive sign-in

def client_config(source: SourceConfig, config: Config) -> dict:
    """The downloaded client secrets (Desktop app), with the token_uri override applied."""
    path = config.resolve(source.credentials) if source.credentials else None
    fix = "download the OAuth client JSON (Desktop app) and set credentials = \"/path/to/client_secret.json\""
    if path is None:
        raise SourceError("no OAuth client configured", where=source_key(source), fix=fix)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourceError("the OAuth client file does not exist", where=str(path), fix=fix) from None
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read the OAuth client file ({exc.__class__.__name__})", where=str(path),
                          fix=fix) from None
    client = data.get("installed") if isinstance(data, dict) else None
    if not isinstance(client, dict):
        raise SourceError("the OAuth client is not a Desktop app client", where=str(path), fix=fix)
    if source.token_uri:
        client["token_uri"] = source.token_uri
    missing = [key for key in CLIENT_KEYS if not (isinstance(client.get(key), str) and client[key])]
    if missing:   # google-auth-oauthlib would stop on them with a bare ValueError
        raise SourceError(f"the OAuth client file lacks {', '.join(missing)}", where=str(path),
                          fix="download the OAuth client JSON of the Desktop app again (Google Cloud console, "
                              "APIs & Services → Credentials) and point credentials at it")
    return data


def run_google_auth(source: SourceConfig, config: Config, *, open_browser: bool = True,
                    read_line: Callable[[str], str] = input, out: TextIO | None = None,
                    browser: str | None = None, port: int = PASTE_PORT, timeout: float = 600) -> Path:
    """Sign in to Google for one source and save the token (0600); returns the token's path."""
    out = out or sys.stderr
    scopes = token_scopes(source, config)
    flow = InstalledAppFlow.from_client_config(client_config(source, config), scopes=scopes)
    if open_browser and not _has_browser(browser):
        print("No web browser found here; continuing without one.", file=out)
        open_browser = False
    try:
        if open_browser:
            creds = flow.run_local_server(
                host="127.0.0.1", bind_addr="127.0.0.1", port=0, open_browser=True, browser=browser,
                prompt="consent", timeout_seconds=int(timeout),
                authorization_prompt_message="Your browser opens Google's sign-in page. If it does not, open:\n{url}",
                success_message="Kith is signed in. You can close this tab.")
        else:
            creds = _sign_in_without_browser(flow, port=port, read_line=read_line, out=out, timeout=timeout,
                                             again=f"{auth_fix(source)[:-1]} --no-browser` again")
    except WSGITimeoutError:
        raise AuthError(f"no answer from Google's sign-in page within {timeout:.0f} s", where=source_key(source),
                        fix=f"{auth_fix(source)} again (add --no-browser on a machine without one)") from None
    except Warning as exc:  # oauthlib: the user unticked some of the access asked for
        raise AuthError(f"Google granted less access than Kith needs ({exc})", where=source_key(source),
                        fix=f"{auth_fix(source)} again and tick every box on the consent screen") from None
    except AccessDeniedError:   # "Cancel" on the consent screen
        raise AuthError("Google sign-in was cancelled", where=source_key(source),
                        fix=f"{auth_fix(source)} again and allow access") from None
    except OAuth2Error as exc:  # an expired or already used code (invalid_grant), a refused client
        raise AuthError(f"Google refused the sign-in ({exc.error})", where=source_key(source),
                        fix=f"{auth_fix(source)} again and finish within a few minutes (a code works once)") from None
    except NETWORK_ERRORS as exc:
        raise AuthError(f"cannot reach Google to finish the sign-in ({exc.__class__.__name__})",
                        where=source_key(source), fix=NETWORK_FIX) from None
    path = token_path(source, config)
    save_credentials(creds, path)
    return path


def _has_browser(name: str | None) -> bool:
    try:
        webbrowser.get(name)
    except webbrowser.Error:
        return False
    return True


def _sign_in_without_browser(flow: InstalledAppFlow, *, port: int, read_line: Callable[[str], str],
                             out: TextIO, timeout: float, again: str) -> Credentials:
    """Print the URL; take the redirect through an SSH tunnel to 127.0.0.1:port, or pasted back."""
    answers: queue.Queue[str | None] = queue.Queue()
    server = _redirect_listener(port, answers)
    flow.redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
    url, state = flow.authorization_url(prompt="consent")
    print(_NO_BROWSER_HELP.format(url=url, port=server.server_address[1]), file=out)
    threading.Thread(target=_read_answer, args=(read_line, answers), daemon=True).start()
    try:
        answer = answers.get(timeout=timeout)
    except queue.Empty:
        raise AuthError("no answer from the Google sign-in page", fix=again) from None
    finally:
        server.shutdown()
        server.server_close()
    if answer is None:
        raise AuthError("no address was pasted (the input ended)", fix=again)
    query = parse_qs(urlsplit(answer.strip()).query)
    if "error" in query:
        raise AuthError(f"Google sign-in was not completed ({query['error'][0]})", fix=again)
    if query.get("state", [""])[0] != state or "code" not in query:
        raise AuthError("that address is not the one Google redirected to", fix=again)
    flow.fetch_token(code=query["code"][0])
    return flow.credentials


def _read_answer(read_line: Callable[[str], str], answers: queue.Queue[str | None]) -> None:
    """The address pasted at the prompt, or None when the input ends (Ctrl-D, no terminal): a sign-in that
    cannot be finished says so at once instead of waiting out the timeout."""
    try:
        answers.put(read_line("Address: "))
    except EOFError:
        answers.put(None)


_NO_BROWSER_HELP = """\
Open this address in a browser on any computer and allow access:

  {url}

Google then sends the browser to http://127.0.0.1:{port}/?state=…&code=…
 - If that computer is this one, or you forwarded the port first
   (ssh -L {port}:127.0.0.1:{port} THIS-HOST), Kith picks the answer up by itself.
 - Otherwise the page will not load: copy the whole address from the browser's
   address bar and paste it here."""


def _redirect_listener(port: int, answers: queue.Queue[str | None]) -> HTTPServer:
    """A one-page server on 127.0.0.1 that hands the redirect's address to `answers`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            done = "code=" in self.path or "error=" in self.path
            if done:
                answers.put(f"http://127.0.0.1{self.path}")
            self.send_response(200 if done else 404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Kith received Google's answer. You can close this tab." if done else b"")

        def log_message(self, *args: object) -> None:
            pass

    try:
        server = HTTPServer(("127.0.0.1", port), Handler)
    except OSError:
        server = HTTPServer(("127.0.0.1", 0), Handler)   # port taken: paste-back still works
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
