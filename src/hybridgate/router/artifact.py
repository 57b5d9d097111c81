"""The router artifact: one small, versioned, checksum-verified file.

Layout: the magic line ``HGROUTER\\n``, an 8-byte big-endian header length, a JSON header
``{"format", "sha256", "metadata"}``, then an ``.npz`` payload (no pickles). The sha256 covers the
payload and is checked before anything is parsed. Every problem surfaces as `ArtifactError`, a
`ConfigError`: a broken artifact is found at load time, never while serving. Format 2 adds the
optional topic prior (``prior_centroids``, ``prior_gains``, ``prior_params``); format 1 files,
which never have one, still load.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hybridgate.errors import ConfigError
from hybridgate.router.features import FEATURE_NAMES
from hybridgate.router.model import TopicPrior

MAGIC = b"HGROUTER\n"
FORMAT = 2
READS = (1, 2)
DEFAULT_NAME = "complexity-v2.hgr"


class ArtifactError(ConfigError):
    """The router artifact is missing, corrupt, or from an incompatible version."""

    code = "router_artifact_invalid"


@dataclass(frozen=True)
class RouterArtifact:
    vocab: tuple[str, ...]
    table: npt.NDArray[np.int8]  # [V, d] quantised token vectors
    table_scale: npt.NDArray[np.float32]  # [d]
    feature_names: tuple[str, ...]
    mean: npt.NDArray[np.float64]
    std: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float64]
    bias: float
    score_quantiles: npt.NDArray[np.float64]  # training scores at 0, 0.01, ..., 1 (calibration)
    metadata: dict[str, Any] = field(default_factory=dict)
    prior: TopicPrior | None = None  # format 2; None: the linear score alone


def _payload(a: RouterArtifact) -> bytes:
    buf = io.BytesIO()
    arrays: dict[str, Any] = {
        "vocab": np.frombuffer("\n".join(a.vocab).encode("utf-8"), dtype=np.uint8),
        "table": a.table,
        "table_scale": a.table_scale,
        "mean": a.mean,
        "std": a.std,
        "weights": a.weights,
        "bias": np.array([a.bias]),
        "score_quantiles": a.score_quantiles,
    }
    if a.prior is not None:
        p = a.prior
        arrays["prior_centroids"] = p.centroids
        arrays["prior_gains"] = p.gains
        arrays["prior_params"] = np.array([p.tau, p.weight, float(p.start)])
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def dumps(a: RouterArtifact) -> bytes:
    payload = _payload(a)
    meta = {**a.metadata, "feature_names": list(a.feature_names)}
    header = json.dumps(
        {"format": FORMAT, "sha256": hashlib.sha256(payload).hexdigest(), "metadata": meta}, sort_keys=True
    ).encode("utf-8")
    return MAGIC + len(header).to_bytes(8, "big") + header + payload


def save(a: RouterArtifact, path: Path) -> str:
    """Write atomically; returns the payload sha256."""
    blob = dumps(a)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(blob)
    tmp.replace(path)
    return str(json.loads(_split(blob, str(path))[0])["sha256"])


def _split(blob: bytes, where: str) -> tuple[bytes, bytes]:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 8:
        raise ArtifactError(f"{where}: not a hybridgate router artifact")
    start = len(MAGIC) + 8
    size = int.from_bytes(blob[len(MAGIC) : start], "big")
    if size > len(blob) - start:
        raise ArtifactError(f"{where}: truncated header")
    return blob[start : start + size], blob[start + size :]


def _header(raw: bytes, where: str) -> dict[str, Any]:
    try:
        header = json.loads(raw)
    except ValueError as exc:
        raise ArtifactError(f"{where}: unreadable header ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") not in READS:
        got = header.get("format") if isinstance(header, dict) else None
        raise ArtifactError(f"{where}: artifact format {got!r}, this version reads formats {READS}")
    return header


def loads(blob: bytes, where: str = "<bytes>") -> RouterArtifact:
    raw_header, payload = _split(blob, where)
    header = _header(raw_header, where)
    digest = hashlib.sha256(payload).hexdigest()
    if digest != header.get("sha256"):
        raise ArtifactError(f"{where}: checksum mismatch (payload sha256 {digest}, header says {header.get('sha256')})")
    meta = dict(header.get("metadata") or {})
    names = tuple(meta.pop("feature_names", ()))
    if names != FEATURE_NAMES:
        raise ArtifactError(f"{where}: trained with other hand features than this version computes; retrain it")
    try:
        return _arrays(payload, names, meta)
    except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{where}: unreadable payload ({exc})") from exc


def _arrays(payload: bytes, names: tuple[str, ...], meta: dict[str, Any]) -> RouterArtifact:
    with np.load(io.BytesIO(payload), allow_pickle=False) as z:
        return RouterArtifact(
            vocab=tuple(z["vocab"].tobytes().decode("utf-8").split("\n")),
            table=z["table"],
            table_scale=z["table_scale"],
            feature_names=names,
            mean=z["mean"],
            std=z["std"],
            weights=z["weights"],
            bias=float(z["bias"][0]),
            score_quantiles=z["score_quantiles"],
            metadata=meta,
            prior=_prior(z, len(names)) if "prior_params" in z.files else None,
        )


def _prior(z: Any, n_hand: int) -> TopicPrior:
    tau, weight, start = (float(v) for v in z["prior_params"])
    centroids, gains = z["prior_centroids"], z["prior_gains"]
    if int(start) != n_hand or centroids.shape[1] != z["table"].shape[1] or len(gains) != len(centroids) or tau <= 0:
        raise ValueError("topic prior does not match the feature layout")
    return TopicPrior(centroids, gains, tau, weight, int(start))


def load(path: Path) -> RouterArtifact:
    try:
        blob = path.read_bytes()
    except FileNotFoundError as exc:
        raise ArtifactError(f"router artifact not found: {path}") from exc
    except OSError as exc:
        raise ArtifactError(f"router artifact unreadable: {path} ({exc})") from exc
    return loads(blob, str(path))


def recorded_sha256(path: Path) -> str:
    """The payload checksum written in an artifact's header (what `save` returned)."""
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"router artifact unreadable: {path} ({exc})") from exc
    return str(_header(_split(blob, str(path))[0], str(path)).get("sha256"))


def default_path() -> Path:
    return Path(str(resources.files("hybridgate") / "data" / "router" / DEFAULT_NAME))


def load_default() -> RouterArtifact:
    return load(default_path())
