"""Endpoint config -> backend. Provider modules are imported only when configured."""

from __future__ import annotations

import importlib

from hybridgate.backends.base import Backend
from hybridgate.backends.mock import MockBackend
from hybridgate.backends.openai_compat import OpenAICompatBackend
from hybridgate.errors import ConfigError
from hybridgate.settings import EndpointConfig

_PROVIDERS = {
    "anthropic": ("hybridgate.backends.anthropic", "AnthropicBackend"),
    "gemini": ("hybridgate.backends.gemini", "GeminiBackend"),
    "local": ("hybridgate.backends.local", "LocalBackend"),
}


def build_backend(cfg: EndpointConfig) -> Backend:
    if cfg.kind in ("openai", "azure"):
        return OpenAICompatBackend(cfg)
    if cfg.kind == "mock":
        return MockBackend(cfg.name, cfg.trust)
    module_name, cls_name = _PROVIDERS[cfg.kind]
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"endpoint {cfg.name!r}: backend kind {cfg.kind!r} is unavailable: {e}") from e
    backend: Backend = getattr(module, cls_name)(cfg)
    return backend
