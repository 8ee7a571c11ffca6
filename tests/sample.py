"""The bundled sample as a test fixture: the example config, pointed at a temporary store."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DAY = "2026-03-03"


def sample_config(tmp_path: Path) -> Path:
    """config.example.toml with its paths made absolute and its database and digests in tmp_path."""
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    text = text.replace('database = "examples/.kith/sample.db"', f'database = "{tmp_path / "kith.db"}"')
    text = text.replace('directory = "examples/.kith/digests"', f'directory = "{tmp_path / "digests"}"')
    text = re.sub(r'path = "examples/', f'path = "{ROOT / "examples"}/', text)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path
