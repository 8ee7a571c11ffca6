"""Microsoft sign-in for Outlook sources: MSAL public client, persisted token cache.

`kith auth microsoft` runs once per source (device-code flow on a machine with
no browser, the system-browser flow otherwise) and leaves an MSAL token cache
at the source's `token_cache` path. Sync runs then only ever call
`acquire_token_silent`, which answers from the cache or refreshes with the
refresh token; when that grant is gone the user gets one line naming the
command to run again. Nothing here can read or send mail: it only yields
access tokens for the scopes asked for.

Least privilege: sync asks for `Mail.ReadBasic` and `Calendars.ReadBasic` (no
bodies). Creating the digest in the inbox (`[digest] deliver` contains
"outlook") needs `Mail.ReadWrite`, and Entra puts every permission consented to
for an app into each of that app's access tokens. So the Outlook source that
delivers may name a second app registration, `delivery_client_id`, with its own
token cache: `kith auth microsoft --delivery` asks for `Mail.ReadWrite` there
only, and the sync's app keeps the read scopes. Without it (configs from before
it existed), the sync's sign-in asks for `Mail.ReadWrite` too, and says so. The
cache is encrypted by msal-extensions where the platform has a keyring
(DPAPI, Keychain, libsecret); elsewhere it is a plaintext file with mode 0600.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msal
import requests

from connectors.graph_client import PORTAL_FIX
from daemon import paths
from daemon.config import Config, SourceConfig
from daemon.errors import AuthError, ConfigError, SourceError

log = logging.getLogger(__name__)
_told: set[Path] = set()       # cache paths whose plaintext fallback was already logged

READ_SCOPES = ("Mail.ReadBasic", "Calendars.ReadBasic")
WRITE_SCOPE = "Mail.ReadWrite"
TIMEOUT = (10, 60)


def auth_fix(source: SourceConfig, *, delivery: bool = False) -> str:
    return f"run `kith auth microsoft --source {source.name}{' --delivery' if delivery else ''}`"


def delivering_source(config: Config) -> SourceConfig | None:
    """The Outlook source whose inbox gets the digest (the first enabled one), when `[digest] deliver` says so."""
    if "outlook" not in config.digest.deliver:
        return None
    return next((s for s in config.sources if s.type == "outlook" and s.enabled), None)


def writes_with_sync_app(config: Config) -> bool:
    """Whether the digest goes into an Outlook inbox through the sync's own app (no `delivery_client_id`): the
    sync's sign-in then grants Mail.ReadWrite, and every token the sync uses carries it."""
    source = delivering_source(config)
    return source is not None and not source.delivery_client_id


def scopes_for(config: Config, *, delivery: bool = False) -> list[str]:
    """What a sign-in asks the user to consent to. The sync's app: the read scopes, plus Mail.ReadWrite when the
    digest goes into the inbox through it; the delivery app (`delivery`): Mail.ReadWrite only."""
    if delivery:
        return [WRITE_SCOPE]
    scopes = list(READ_SCOPES)
    if writes_with_sync_app(config):
        scopes.append(WRITE_SCOPE)
    return scopes


def cache_path(source: SourceConfig, config: Config, *, delivery: bool = False) -> Path:
    """The source's `token_cache`, or msal-<name>.bin in the state directory; for the delivery app,
    `delivery_token_cache`, or msal-<name>-delivery.bin next to it."""
    if not delivery:
        if source.token_cache:
            return config.resolve(source.token_cache)
        return paths.state_dir() / f"msal-{source.name}.bin"
    path = (config.resolve(source.delivery_token_cache) if source.delivery_token_cache
            else paths.state_dir() / f"msal-{source.name}-delivery.bin")
    if path == cache_path(source, config):
        raise ConfigError(f"source {source.name!r}: delivery_token_cache is the sync's token cache ({path})",
                          where=str(config.path),
                          fix="name another file, or remove delivery_token_cache to keep it in the state directory")
    return path


class CacheFile:
    """Loads and saves one SerializableTokenCache, encrypted when the platform allows.

    msal-extensions (optional) is tried first; without it, or without a usable
    keyring (a headless Linux box has no Secret Service), the cache is a
    plaintext file written atomically with mode 0600, and a log line says so.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.persistence = _encrypted_persistence(path)
        self.problem = ""           # why the cache on disk could not be used; empty when it could

    def load(self) -> msal.SerializableTokenCache:
        """The cache on disk, or an empty one (with `problem` set) when it is not an MSAL cache:
        sign-in then starts afresh, and sync says which file to replace."""
        cache = msal.SerializableTokenCache()
        try:
            text = self._read()
            if text:
                _check_shape(json.loads(text))
                cache.deserialize(text)
        except OSError as exc:
            self.problem = exc.strerror or type(exc).__name__
        except _NotACache as exc:
            self.problem = str(exc)
        except ValueError:
            self.problem = "not JSON"
        if self.problem:
            log.info("token cache %s is unreadable (%s); sign in again", self.path, self.problem)
        return cache

    def _read(self) -> str | None:
        if self.persistence is not None:
            try:
                return self.persistence.load()
            except Exception as exc:  # noqa: BLE001 - PersistenceNotFound, decryption or keyring errors
                log.debug("encrypted token cache not loaded: %s", exc.__class__.__name__)
                return None
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def save(self, cache: msal.SerializableTokenCache) -> None:
        """Write the cache if MSAL changed it (new or refreshed tokens)."""
        if not cache.has_state_changed:
            return
        text = cache.serialize()
        if self.persistence is not None:
            paths.ensure_private_dir(self.path.parent)
            self.persistence.save(text)
        else:
            paths.write_private(self.path, text)


class _NotACache(ValueError):
    """Valid JSON that is not {credential type: {key: entry}}, which MSAL reads without checking."""


def _check_shape(data: Any) -> None:
    if not isinstance(data, dict) or not all(
            isinstance(entries, dict) and all(isinstance(e, dict) for e in entries.values())
            for entries in data.values()):
        raise _NotACache("not an MSAL token cache")


def _encrypted_persistence(path: Path) -> Any | None:
    """msal-extensions' encrypted persistence, or None (then: 0600 plaintext, said once per path)."""
    try:
        from msal_extensions import build_encrypted_persistence
    except ImportError:
        _plaintext(path, "msal-extensions is not installed")
        return None
    try:
        paths.ensure_private_dir(path.parent)
        return build_encrypted_persistence(str(path))
    except Exception as exc:  # noqa: BLE001 - ImportError (no PyGObject), keyring unavailable, ...
        _plaintext(path, f"no keyring to encrypt it ({(str(exc).splitlines() or [''])[0][:80] or type(exc).__name__})")
        return None


def _plaintext(path: Path, why: str) -> None:
    if path not in _told:
        _told.add(path)
        log.info("token cache %s is a plaintext file readable only by you (0600): %s", path, why)


class MicrosoftAuth:
    """One source's MSAL application and token cache, shared by the connectors and `kith auth`; with
    `delivery`, those of the source's delivery app (`delivery_client_id`, its own cache)."""

    def __init__(self, source: SourceConfig, config: Config, *, http_client: Any = None,
                 delivery: bool = False) -> None:
        self.source = source
        self.delivery = delivery
        self.client_id = source.delivery_client_id if delivery else source.client_id
        self.purpose = " for digest delivery (delivery_client_id)" if delivery else ""
        self.where = f"{source.type}:{source.name}"
        self.path = cache_path(source, config, delivery=delivery)
        self.file = CacheFile(self.path)
        self.cache = self.file.load()
        self.http = http_client if http_client is not None else requests.Session()
        self._app: msal.PublicClientApplication | None = None

    @property
    def app(self) -> msal.PublicClientApplication:
        """Built on first use: the constructor fetches the authority's OIDC document."""
        if self._app is None:
            self._app = build_app(self.source, self.cache, self.http, self.where, client_id=self.client_id)
        return self._app

    def require_account(self) -> None:
        """Raise AuthError unless the cache holds a signed-in account (no network needed)."""
        if self.file.problem:
            raise self._unreadable(self.file.problem)
        search = getattr(self.cache, "search", self.cache.find)      # `find` is deprecated in newer msal
        if not any(True for _ in search(msal.TokenCache.CredentialType.ACCOUNT)):
            raise AuthError(f"not signed in to Microsoft{self.purpose}", where=self.where, fix=self.fix)

    @property
    def fix(self) -> str:
        return auth_fix(self.source, delivery=self.delivery)

    def _unreadable(self, why: str) -> AuthError:
        return AuthError(f"the Microsoft token cache cannot be read ({why})", where=str(self.path), fix=self.fix)

    def token(self, scopes: Sequence[str], *, force_refresh: bool = False) -> str:
        """An access token from the cache, refreshed silently when due; AuthError when the grant is gone."""
        self.require_account()
        try:
            accounts = self._accounts()
            result = self.app.acquire_token_silent_with_error(list(scopes), account=accounts[0] if accounts else None,
                                                              force_refresh=force_refresh)
        except requests.RequestException as exc:
            raise SourceError(f"cannot reach the Microsoft sign-in service ({exc.__class__.__name__})",
                              where=self.where, fix="check the network connection and `authority`") from None
        except json.JSONDecodeError:            # the token endpoint's answer was a web page
            raise not_from_microsoft(self.where) from None
        finally:
            self.file.save(self.cache)
        if not result or "access_token" not in result:
            code = (result or {}).get("error", "no token in the cache")
            log.info("%s: silent token refresh failed: %s", self.where, code)
            raise AuthError(f"the Microsoft sign-in{self.purpose} has expired or was revoked ({code})",
                            where=self.where, fix=self.fix)
        return result["access_token"]

    def _accounts(self) -> list[dict]:
        """The cached accounts; an entry with missing or mistyped fields would crash MSAL's lookup."""
        try:
            return self.app.get_accounts()
        except (KeyError, TypeError, AttributeError) as exc:
            raise self._unreadable(f"a broken account entry, {type(exc).__name__}") from None


def build_app(source: SourceConfig, cache: msal.SerializableTokenCache, http: Any, where: str, *,
              client_id: str | None = None) -> msal.PublicClientApplication:
    """The MSAL public client for this source's client id (or `client_id`, the delivery app's) and authority.

    Instance discovery asks login.microsoftonline.com about unknown hosts; it is
    skipped for hosts that are not Microsoft's (a company's own authority, tests).
    """
    client_id = source.client_id if client_id is None else client_id
    if not client_id:
        raise ConfigError(f"source {source.name!r} has no client_id", where=where,
                          fix="register an app (see README, Microsoft 365) and set client_id = \"...\"")
    host = (urlsplit(source.authority).hostname or "").lower()
    known = host in msal.authority.WELL_KNOWN_AUTHORITY_HOSTS
    try:
        return msal.PublicClientApplication(client_id, authority=source.authority, token_cache=cache,
                                            http_client=http, timeout=TIMEOUT,
                                            instance_discovery=None if known else False)
    except requests.RequestException as exc:
        raise SourceError(f"cannot reach the authority {source.authority} ({exc.__class__.__name__})", where=where,
                          fix="check the network connection and `authority`") from None
    except ValueError as exc:
        if _not_json(exc):      # MSAL calls any failed discovery a bad authority; a web page is the network's
            raise not_from_microsoft(where) from None
        raise ConfigError(f"authority {source.authority!r} is not usable ({str(exc).splitlines()[0][:100]})",
                          where=where, fix="use https://login.microsoftonline.com/common, /organizations, "
                                           "/consumers or /<tenant id>") from None


def not_from_microsoft(where: str) -> SourceError:
    """The sign-in service answered with something that is not JSON: what Graph calls say in that case."""
    return SourceError("got an answer that is not from the Microsoft sign-in service (a web page or other text "
                       "instead of JSON)", where=where, fix=f"{PORTAL_FIX} and `authority`")


def _not_json(exc: BaseException) -> bool:
    """Whether MSAL failed on an answer that is not JSON, raised as is or under MSAL's own ValueError."""
    return isinstance(exc, json.JSONDecodeError) or isinstance(exc.__context__, json.JSONDecodeError)


class _QuietNotJson(logging.Filter):
    """MSAL logs a token answer that is not JSON with a traceback and the page's text before raising; Kith
    reports it in one line (`not_from_microsoft`), and a traceback must not reach the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Token response is not in json format")


logging.getLogger("msal.oauth2cli.oauth2").addFilter(_QuietNotJson())


def browser_available() -> bool:
    """Whether the system-browser flow can work here (a display, a registered browser)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    if os.environ.get("SSH_CONNECTION") and not os.environ.get("DISPLAY"):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def run_microsoft_auth(source: SourceConfig, config: Config, *, device_code: bool | None = None,
                       http_client: Any = None, delivery: bool = False,
                       on_granted: Callable[[set[str]], None] | None = None) -> Path:
    """Sign in interactively (`kith auth microsoft`) and persist the token cache; returns its path.

    `device_code=None` picks the device-code flow when no browser is available. `delivery` signs in the
    source's delivery app (`delivery_client_id`) for Mail.ReadWrite alone, into its own cache. `on_granted`
    is told the scopes the new token carries: every one consented to for the app, even long ago.
    """
    if delivery and not source.delivery_client_id:
        raise ConfigError(f"source {source.name!r} has no delivery_client_id", where=str(config.path),
                          fix=NO_DELIVERY_APP_FIX)
    auth = MicrosoftAuth(source, config, http_client=http_client, delivery=delivery)
    scopes = scopes_for(config, delivery=delivery)
    use_device = device_code if device_code is not None else not browser_available()
    try:
        result = _device_flow(auth, scopes) if use_device else auth.app.acquire_token_interactive(
            scopes, prompt="select_account", timeout=600)
    except requests.RequestException as exc:
        raise SourceError(f"cannot reach the Microsoft sign-in service ({exc.__class__.__name__})",
                          where=auth.where, fix="check the network connection and `authority`") from None
    except json.JSONDecodeError:
        raise not_from_microsoft(auth.where) from None
    if "access_token" not in result:
        raise AuthError(f"sign-in{auth.purpose} failed ({_first_line(result)})", where=auth.where,
                        fix=_retry_fix(auth, use_device))
    _keep_only(auth.app, result)
    auth.file.save(auth.cache)
    if on_granted is not None:
        on_granted(set(str(result.get("scope") or " ".join(scopes)).split()))
    log.info("%s: signed in%s; token cache at %s", auth.where, auth.purpose, auth.path)
    return auth.path


NO_DELIVERY_APP_FIX = ("register a second app for delivery (README: Microsoft 365, \"Digest in your Outlook inbox\") "
                       "and set delivery_client_id = \"…\" on the outlook source")


def delivery_report(config: Config) -> dict | None:
    """How the digest goes into an Outlook inbox, for `kith status` and `kith sync`: None when it goes into none;
    else the mailbox, whether through an app of its own (`separate_app`) and, when it is, whether that app is
    signed in, read from its token cache without any network (`problem`: the one line to show when not)."""
    source = delivering_source(config)
    if source is None:
        return None
    report = {"mailbox": f"{source.type}:{source.name}", "separate_app": bool(source.delivery_client_id),
              "client_id": source.delivery_client_id or None, "token_cache": None, "signed_in": None, "problem": None}
    if not source.delivery_client_id:
        return report
    try:
        auth = MicrosoftAuth(source, config, delivery=True)
        report["token_cache"] = str(auth.path)
        auth.require_account()
    except (AuthError, ConfigError) as exc:
        report["problem"] = exc.line()
    report["signed_in"] = report["problem"] is None
    return report


def _device_flow(auth: MicrosoftAuth, scopes: list[str]) -> dict:
    flow = auth.app.initiate_device_flow(scopes=scopes)
    if "user_code" not in flow:
        raise AuthError(f"the device-code flow was refused ({_first_line(flow)})", where=auth.where,
                        fix="enable \"Allow public client flows\" in the app registration, or "
                            f"{auth.fix} where a browser is available")
    print(flow["message"], file=sys.stderr, flush=True)
    return auth.app.acquire_token_by_device_flow(flow)


def _keep_only(app: msal.PublicClientApplication, result: dict) -> None:
    """One account per cache: signing in as someone else replaces the previous account."""
    username = (result.get("id_token_claims") or {}).get("preferred_username")
    for account in app.get_accounts() if username else ():
        if account.get("username") != username:
            app.remove_account(account)


def _first_line(result: dict) -> str:
    text = result.get("error_description") or result.get("error") or json.dumps(result)[:80]
    return text.splitlines()[0][:160]


def _retry_fix(auth: MicrosoftAuth, used_device: bool) -> str:
    other = "without --device-code on a machine with a browser" if used_device else "with --device-code"
    return f"{auth.fix} again, or {other}"
