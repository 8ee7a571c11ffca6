"""A small Microsoft Graph HTTP client shared by the Outlook connectors and delivery.

It adds what every Graph call needs and nothing more: the bearer token (one
forced refresh on a 401), immutable ids and page size in one `Prefer` header,
retries of 429/5xx and network errors (a connection dropped mid-answer
included) through `connectors.backoff` honouring `Retry-After`, and the mapping
of Graph errors to one-line `SourceError`s. An expired delta token
(`syncStateNotFound` in any letter case, or 410 Gone with a Location) is raised
as `DeltaExpired` so the connector can restart that folder's pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode

import requests

from connectors.backoff import Retryable, WaitTooLong, parse_retry_after, wait_text, with_backoff
from daemon.errors import AuthError, SourceError

log = logging.getLogger(__name__)

VERSION = "v1.0"
RETRY_STATUS = {429, 500, 502, 503, 504}
EXPIRED_CODES = {"syncstatenotfound", "resyncrequired"}   # lower case: Graph sends "SyncStateNotFound" too
TIMEOUT = (10, 120)
IMMUTABLE_IDS = 'IdType="ImmutableId"'
# No answer, or an answer cut off or garbled on the way (ChunkedEncodingError covers a body
# shorter than its Content-Length): all temporary network failures, worth another try.
NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                  requests.exceptions.ContentDecodingError)
NETWORK_FIX = "check the network connection; the next sync resumes where this one stopped"
# A web page where JSON was due: a hotel or train Wi-Fi answering every request with its sign-in page.
PORTAL_FIX = ("a proxy or captive portal may have answered instead: check the network connection "
              "(sign in to the Wi-Fi portal)")


class DeltaExpired(Exception):
    """The delta or skip token is no longer valid: start that pass again from scratch."""

    def __init__(self, location: str | None) -> None:
        super().__init__("delta token expired")
        self.location = location


class NotFound(SourceError):
    """Graph answered 404 for a folder or resource."""


class Unreachable(Retryable):
    """No usable answer reached us (network failure): retried, then reported as such."""


class GraphClient:
    """Requests against one Graph endpoint for one signed-in source."""

    def __init__(self, endpoint: str, token: Callable[[bool], str], *, session: Any, where: str, fix: str,
                 sleep: Callable[[float], None] = time.sleep, attempts: int = 6) -> None:
        self.base = f"{endpoint.rstrip('/')}/{VERSION}"
        self.token = token
        self.session = session
        self.where, self.fix = where, fix
        self.sleep, self.attempts = sleep, attempts
        self.requests = 0           # requests sent, retries included (for the benchmark and logs)
        self._bearer: str | None = None

    def url(self, path: str) -> str:
        """An absolute URL: links from Graph pass through, paths get the endpoint and version."""
        return path if path.startswith(("https://", "http://")) else f"{self.base}{path}"

    def get(self, path: str, *, params: dict | None = None, prefer: str = "") -> dict:
        return self.request("GET", path, params=params, prefer=prefer)

    def post(self, path: str, body: dict) -> dict:
        return self.request("POST", path, body=body)

    def patch(self, path: str, body: dict) -> dict:
        return self.request("PATCH", path, body=body)

    def pages(self, path: str, *, params: dict | None = None, prefer: str = "") -> Iterator[dict]:
        """Every item of a paged collection, following @odata.nextLink."""
        url: str | None = path
        while url:
            page = self.get(url, params=params, prefer=prefer)
            yield from page.get("value", [])
            url, params = page.get("@odata.nextLink"), None

    def request(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None,
                prefer: str = "") -> dict:
        """Send with retries; return the JSON body, or raise a one-line error."""
        url = self.url(path)
        if params:                  # %20, not "+", for spaces: OData $filter expressions need it
            url += ("&" if "?" in url else "?") + urlencode(params, quote_via=quote, safe="$,")
        try:
            response = with_backoff(lambda: self._send(method, url, body, prefer),
                                    classify=_classify, attempts=self.attempts, sleep=self.sleep)
        except Unreachable as exc:
            raise SourceError(f"cannot reach Microsoft Graph ({exc})", where=self.where, fix=NETWORK_FIX) from None
        except Retryable as exc:
            raise SourceError(f"Microsoft Graph is unavailable ({exc})", where=self.where,
                              fix="Kith retries on the next sync; check graph_endpoint if this persists") from None
        except WaitTooLong as exc:
            raise SourceError(f"Microsoft Graph is throttling and asks Kith to wait {wait_text(exc.seconds)}",
                              where=self.where, fix="nothing to do: the next sync after that wait resumes "
                                                    "where this one stopped") from None
        return self._result(response)

    def _send(self, method: str, url: str, body: dict | None, prefer: str) -> requests.Response:
        """One attempt; a 401 gets one forced token refresh; temporary failures raise Retryable."""
        for fresh in (False, True):
            if self._bearer is None or fresh:
                self._bearer = self.token(fresh)
            headers = {"Authorization": f"Bearer {self._bearer}", "Accept": "application/json",
                       "Prefer": ", ".join(p for p in (IMMUTABLE_IDS, prefer) if p)}
            self.requests += 1
            try:
                response = self.session.request(method, url, json=body, headers=headers, timeout=TIMEOUT)
            except NETWORK_ERRORS as exc:
                raise Unreachable(exc.__class__.__name__) from None
            if response.status_code != 401:
                break
        if response.status_code in RETRY_STATUS:
            raise Retryable(f"HTTP {response.status_code}", parse_retry_after(response.headers.get("Retry-After")))
        return response

    def _result(self, response: requests.Response) -> dict:
        status = response.status_code
        code, message = _error_of(response)
        if status < 300:
            return _json_of(response, self.where) if response.content else {}
        if status == 410 or code.lower() in EXPIRED_CODES:
            raise DeltaExpired(response.headers.get("Location"))
        if status == 401:
            raise AuthError(f"Microsoft Graph refused the token ({code})", where=self.where, fix=self.fix)
        if status == 403:
            raise SourceError(f"Microsoft Graph denied access ({code})", where=self.where,
                              fix=f"grant the permissions listed in the README: {self.fix}")
        if status == 404:
            raise NotFound(f"not found in the mailbox ({code})", where=self.where,
                           fix="check the folder names or ids in `folders`")
        raise SourceError(f"Microsoft Graph answered HTTP {status} ({code}: {message[:80]})", where=self.where,
                          fix="check graph_endpoint; report a bug if it persists")


def is_link(value: str) -> bool:
    """Whether a stored link looks like one Graph gave us (its host may differ from a proxy endpoint's)."""
    return value.startswith(("https://", "http://")) and f"/{VERSION}/" in value


def _classify(exc: Exception) -> float | bool:
    if isinstance(exc, Retryable):
        return exc.retry_after if exc.retry_after is not None else True
    return False


def _json_of(response: requests.Response, where: str) -> dict:
    """A success's JSON object; anything else came from something that is not Graph."""
    try:
        data = response.json()
    except ValueError:      # requests' JSONDecodeError (also an OSError: it must not pass for a file problem)
        data = None
    if not isinstance(data, dict):
        kind = response.headers.get("Content-Type", "").split(";")[0] or "no content type"
        raise SourceError(f"got an answer that is not from Graph (HTTP {response.status_code}, {kind} instead of JSON)",
                          where=where, fix=f"{PORTAL_FIX} and graph_endpoint")
    return data


def _error_of(response: requests.Response) -> tuple[str, str]:
    """Graph's error code and message ("" when the body is not a Graph error)."""
    if response.status_code < 300:
        return "", ""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):    # not JSON, or JSON that is not an object
        return "", ""
    if isinstance(error, dict):
        return str(error.get("code", "")), str(error.get("message", "")).splitlines()[0] if error.get("message") else ""
    return str(error), ""
