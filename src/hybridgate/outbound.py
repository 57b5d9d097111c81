"""What an attempt sends upstream: the client's body under the upstream's model name, and the part of it
that prefix affinity routes by."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hybridgate.detect.hints import HINT_KEYS


def system_prompt_key(body: Mapping[str, Any]) -> str | None:
    """What prefix affinity hashes: the system prompt, where vLLM's prefix cache pays off."""
    system = body.get("system")
    if isinstance(system, str):
        return system[:2048]
    msgs = body.get("messages")
    if isinstance(msgs, list) and msgs and isinstance(msgs[0], dict) and msgs[0].get("role") in ("system", "developer"):
        content = msgs[0].get("content")
        return content[:2048] if isinstance(content, str) else None
    return None


def upstream_body(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The client's body with the upstream's model name; the gateway's own hint keys stay here."""
    out = {**body, "model": model}
    meta = body.get("metadata")
    if isinstance(meta, dict):
        rest = {k: v for k, v in meta.items() if k not in HINT_KEYS and not k.startswith("hybridgate_")}
        if rest:
            out["metadata"] = rest
        else:
            del out["metadata"]
    return out
