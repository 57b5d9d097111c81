"""Shared fixtures: fake upstreams and a running gateway on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hybridgate.app import Overrides, build_app
from hybridgate.settings import Settings, parse_settings
from tests.fakes.servers import ServerThread
from tests.fakes.upstream import FakeUpstream


def minimal_config(self_url: str, ext_url: str, **policy: Any) -> dict[str, Any]:
    return {
        "endpoints": [
            {
                "name": "local-vllm",
                "kind": "openai",
                "base_url": self_url,
                "trust": "self_hosted",
                "models": ["llama-3-8b"],
            },
            {
                "name": "openai",
                "kind": "openai",
                "base_url": ext_url,
                "api_key": "sk-test",
                "trust": "external",
                "models": ["gpt-4o"],
            },
        ],
        "tiers": {
            "self_hosted": {"endpoints": ["local-vllm"], "model": "llama-3-8b"},
            "frontier": {"endpoints": ["openai"], "model": "gpt-4o"},
        },
        "policy": {"default_tier": "self_hosted", **policy},
        "detection": {"complexity": "length"},
    }


@dataclass
class Gateway:
    url: str
    servers: ServerThread
    fakes: dict[str, FakeUpstream]
    settings: Settings

    @property
    def self_fake(self) -> FakeUpstream:
        return self.fakes["self"]

    @property
    def ext_fake(self) -> FakeUpstream:
        return self.fakes["external"]


GatewayFactory = Callable[..., Gateway]


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Embedded state (audit trail, keys) goes to a fresh directory per test, never the checkout."""
    monkeypatch.setenv("HYBRIDGATE_DATA_DIR", str(tmp_path_factory.mktemp("data")))


@pytest.fixture
def servers() -> Iterator[ServerThread]:
    st = ServerThread()
    yield st
    st.stop()


@pytest.fixture
def make_gateway(servers: ServerThread) -> GatewayFactory:
    def make(
        config: Callable[[str, str], dict[str, Any]] | None = None,
        overrides: Overrides | None = None,
        **policy: Any,
    ) -> Gateway:
        fakes = {"self": FakeUpstream("self"), "external": FakeUpstream("external")}
        for f in fakes.values():
            f.port = servers.start_app(f.app)
        raw = (config or (lambda s, e: minimal_config(s, e, **policy)))(
            fakes["self"].base_url, fakes["external"].base_url
        )
        settings = parse_settings(raw)
        port = servers.start_app(lambda: build_app(settings, overrides))
        return Gateway(f"http://127.0.0.1:{port}", servers, fakes, settings)

    return make


@pytest.fixture
def gateway(make_gateway: GatewayFactory) -> Gateway:
    return make_gateway()
