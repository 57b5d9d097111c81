"""The active router artifact: which trained file the gateway loads instead of the packaged one.

`hybridgate router train --from-store` writes its artifact into ``<data dir>/router/`` and points
``active.json`` at it (path + payload sha256). The gateway loads the active artifact when there is
one, else the artifact shipped in the package. The pointer pins the checksum, so a file replaced
after registration is refused rather than silently served.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hybridgate.router import artifact as art
from hybridgate.router.artifact import ArtifactError, RouterArtifact
from hybridgate.store.paths import data_dir

POINTER = "active.json"


@dataclass(frozen=True, slots=True)
class Active:
    path: Path
    sha256: str
    version: str
    registered_at: float
    previous: str | None = None  # the version it replaced, for `--force` post-mortems


def registry_dir(base: Path | None = None) -> Path:
    d = (base or data_dir()) / "router"
    d.mkdir(parents=True, exist_ok=True)
    return d


def read_pointer(base: Path | None = None) -> Active | None:
    """The registered artifact, or None when nothing was ever registered."""
    p = registry_dir(base) / POINTER
    try:
        raw: Any = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"{p}: unreadable active-artifact pointer ({exc})") from exc
    try:
        return Active(
            Path(raw["path"]), str(raw["sha256"]), str(raw["version"]), float(raw["registered_at"]), raw.get("previous")
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{p}: malformed active-artifact pointer ({exc})") from exc


def load_active(base: Path | None = None) -> RouterArtifact | None:
    """The registered artifact, checksum-pinned; None when none is registered; ArtifactError if broken."""
    ptr = read_pointer(base)
    return None if ptr is None else _load(ptr)


def _load(ptr: Active) -> RouterArtifact:
    a = art.load(ptr.path)  # verifies the payload against the header
    if art.recorded_sha256(ptr.path) != ptr.sha256:
        raise ArtifactError(f"{ptr.path}: differs from the artifact registered as active (sha256 {ptr.sha256[:16]}…)")
    return a


def current(base: Path | None = None) -> tuple[RouterArtifact, str]:
    """The artifact the gateway would load now, and where it came from."""
    ptr = read_pointer(base)
    if ptr is None:
        return art.load_default(), "packaged"
    return _load(ptr), str(ptr.path)


def register(a: RouterArtifact, base: Path | None = None, *, clock: float | None = None) -> Active:
    """Writes the artifact into the registry and makes it the active one (atomically)."""
    d = registry_dir(base)
    version = str(a.metadata.get("version", "unversioned"))
    path = d / f"{_safe(version)}.hgr"
    digest = art.save(a, path)
    old = _previous(base)
    entry = Active(path.resolve(), digest, version, time.time() if clock is None else clock, old)
    tmp = d / (POINTER + ".tmp")
    tmp.write_text(
        json.dumps(
            {
                "path": str(entry.path),
                "sha256": entry.sha256,
                "version": entry.version,
                "registered_at": entry.registered_at,
                "previous": entry.previous,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    os.replace(tmp, d / POINTER)
    return entry


def _previous(base: Path | None) -> str | None:
    try:
        ptr = read_pointer(base)
    except ArtifactError:
        return None
    return ptr.version if ptr else "packaged"


def _safe(version: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in version)[:100]
