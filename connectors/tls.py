"""Which certificates a server of the user's may show: the system's authorities, or only the one `ca_file`
names (a server of your own with a self-signed certificate). Never "trust anything": a password goes out
over this connection."""

from __future__ import annotations

import ssl
from pathlib import Path

from connectors.passwords import source_key
from daemon.config import Config, SourceConfig
from daemon.errors import SourceError


def ca_path(source: SourceConfig, config: Config) -> Path | None:
    """The PEM file `ca_file` names, checked to hold certificates; None to use the system's authorities."""
    if not source.ca_file.strip():
        return None
    path = config.resolve(source.ca_file.strip())
    fix = ("point ca_file at the server's certificate (or its authority's) in PEM form, the text file that "
           "starts with -----BEGIN CERTIFICATE-----")
    try:
        ssl.create_default_context(cafile=str(path))
    except FileNotFoundError:
        raise SourceError(f"no certificate file at {path} (ca_file)", where=source_key(source), fix=fix) from None
    except ssl.SSLError:
        raise SourceError(f"{path} (ca_file) holds no certificate in PEM form", where=source_key(source),
                          fix=fix) from None
    except OSError as exc:
        raise SourceError(f"cannot read {path} (ca_file: {exc.strerror or exc})", where=source_key(source),
                          fix=fix) from None
    return path


def context(source: SourceConfig, config: Config) -> ssl.SSLContext:
    """The TLS context for the source's server: verifying against `ca_file` alone, or the system's store."""
    path = ca_path(source, config)
    return ssl.create_default_context(cafile=str(path)) if path else ssl.create_default_context()
