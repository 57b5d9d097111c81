"""The serving worker listens with a deep accept queue, so a burst of new client connections is queued by
the kernel instead of having its SYNs dropped (which clients resend only after 1, 3, 7... s)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from hybridgate import cli
from hybridgate.settings import parse_settings


def test_worker_listens_with_a_deep_backlog(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = parse_settings(
        {
            "endpoints": [{"name": "m", "kind": "mock", "trust": "self_hosted", "models": ["x"]}],
            "tiers": {"self_hosted": {"endpoints": ["m"], "model": "x"}},
            "policy": {"default_tier": "self_hosted"},
        }
    )
    seen: dict[str, Any] = {}
    monkeypatch.setattr("hybridgate.app.build_app", lambda _settings: web.Application())
    monkeypatch.setattr("uvloop.install", lambda: None)  # the test process keeps its event loop policy
    monkeypatch.setattr(web, "run_app", lambda app, **kw: seen.update(kw))
    for reuse in (False, True):  # one worker, and each of several (SO_REUSEPORT: one queue per worker)
        seen.clear()
        cli._run_worker(settings.model_dump_json().encode(), "127.0.0.1", 8080, reuse)
        # aiohttp's default of 128 is below a c=256 client or a few hundred ms of pause at 1,000 new clients/s
        assert seen["backlog"] == cli.LISTEN_BACKLOG >= 1024
        assert seen["reuse_port"] is reuse
