"""Shared by the access integration tests: a config with access control, and key creation via the admin API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import minimal_config

ADMIN = "admin-key-for-tests-0123456789"
BODY = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def access_config(self_url: str, ext_url: str, **access: Any) -> dict[str, Any]:
    cfg = minimal_config(self_url, ext_url)
    cfg["access"] = {
        "admin_key": ADMIN,
        "usage_flush_s": 0.05,
        # $1 per token on the self-hosted endpoint: costs are round numbers in assertions
        "costs": {"local-vllm": {"gpu_hourly_usd": 3600, "throughput_tokens_per_s": 1}},
        **access,
    }
    return cfg


def admin(url: str, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, url + path, headers={"authorization": f"Bearer {ADMIN}"}, timeout=30, **kw)


def create_key(url: str, **spec: Any) -> tuple[str, str]:
    r = admin(url, "POST", "/admin/keys", json={"name": "svc", "team": "t", **spec})
    assert r.status_code == 201, r.text
    return r.json()["key"], r.json()["id"]


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}
