"""Where embedded state lives: $HYBRIDGATE_DATA_DIR, else ./.hybridgate beside the working directory."""

from __future__ import annotations

import os
from pathlib import Path

from hybridgate.settings import Settings


def data_dir() -> Path:
    d = Path(os.environ.get("HYBRIDGATE_DATA_DIR") or ".hybridgate")
    d.mkdir(parents=True, exist_ok=True)
    return d


def database_url(settings: Settings | None) -> str:
    """`store.url` from config, else an SQLite file in the data dir."""
    if settings is not None and settings.store.url:
        return settings.store.url
    return f"sqlite:///{data_dir() / 'hybridgate.db'}"
