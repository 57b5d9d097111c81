"""Access control end to end on the embedded store: keys, scopes, admin API, limits, budgets, billing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from hybridgate.app import Overrides, build_app
from hybridgate.observe.base import ListObserver
from tests.conftest import GatewayFactory
from tests.integration.access_helpers import ADMIN, BODY, access_config, admin, bearer, create_key

URL = "/v1/chat/completions"


def gw(make_gateway: GatewayFactory, overrides: Overrides | None = None, **access: Any) -> str:
    return make_gateway(lambda s, e: access_config(s, e, **access), overrides).url


def post(url: str, key: str | None = None, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(url + URL, json=body or BODY, headers=bearer(key) if key else {}, timeout=30)


def test_open_until_a_key_exists_then_401(make_gateway: GatewayFactory) -> None:
    url = gw(make_gateway)
    assert post(url).status_code == 200
    key, key_id = create_key(url)
    r = post(url)
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    assert post(url, "hg-not-a-real-key-at-all-000000000000").status_code == 401
    assert post(url, ADMIN).status_code == 401  # the admin key is not an inference key
    ok = post(url, key)
    assert ok.status_code == 200
    r = httpx.post(url + URL, json=BODY, headers={"x-api-key": key}, timeout=30)
    assert r.status_code == 200
    assert admin(url, "POST", f"/admin/keys/{key_id}/revoke").status_code == 200
    assert post(url, key).status_code == 401


def test_expired_key_is_401(make_gateway: GatewayFactory) -> None:
    url = gw(make_gateway)
    key, _ = create_key(url, expires_in="1s")
    assert post(url, key).status_code == 200
    time.sleep(1.1)
    r = post(url, key)
    assert r.status_code == 401 and r.json()["error"]["code"] == "key_expired"


def test_rotate(make_gateway: GatewayFactory) -> None:
    url = gw(make_gateway)
    old, key_id = create_key(url)
    r = admin(url, "POST", f"/admin/keys/{key_id}/rotate")
    new = r.json()["key"]
    assert post(url, old).status_code == 401 and post(url, new).status_code == 200


def test_scope_denials_are_403(make_gateway: GatewayFactory) -> None:
    url = gw(make_gateway)
    key, _ = create_key(url, scopes={"models": ["llama-3-8b"]})
    r = post(url, key, {**BODY, "model": "gpt-4o"})
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    assert post(url, key, {**BODY, "model": "llama-3-8b"}).status_code == 200


def test_team_class_floor_keeps_requests_self_hosted(make_gateway: GatewayFactory) -> None:
    url = gw(make_gateway)
    assert admin(url, "PUT", "/admin/teams/hr", json={"scopes": {"class_floor": "confidential"}}).status_code == 200
    key, _ = create_key(url, team="hr")
    r = post(url, key, {**BODY, "model": "gpt-4o"})  # explicit external model, but everything from hr is confidential
    assert r.status_code in (403, 503) and "hello from external" not in r.text


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/admin/keys", b"{not json"),
        ("POST", "/admin/keys", b"[1, 2]"),
        ("POST", "/admin/keys", b'{"team": "t"}'),
        ("POST", "/admin/keys", b'{"name": ""}'),
        ("POST", "/admin/keys", b'{"name": "n", "limits": {"rpm": "many"}}'),
        ("POST", "/admin/keys", b'{"name": "n", "limits": {"rpm": -1}}'),
        ("POST", "/admin/keys", b'{"name": "n", "expires_in": "soon"}'),
        ("POST", "/admin/keys", b'{"name": "n", "scopes": {"classes": ["secret-ish"]}}'),
        ("POST", "/admin/keys", b'{"name": "n", "is_admin": true}'),
        ("POST", "/admin/teams", b'{"members": "not-a-list"}'),
        ("GET", "/admin/usage?by=password", b""),
        ("GET", "/admin/usage?since=forever", b""),
    ],
)
def test_malformed_admin_payloads_are_400(make_gateway: GatewayFactory, method: str, path: str, payload: bytes) -> None:
    url = gw(make_gateway)
    r = admin(url, method, path, content=payload) if payload else admin(url, method, path)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_admin_api_needs_the_admin_key(make_gateway: GatewayFactory) -> None:
    url = gw(make_gateway)
    key, _ = create_key(url)
    assert httpx.get(url + "/admin/keys").status_code == 401
    assert httpx.get(url + "/admin/keys", headers=bearer(key)).status_code == 401  # a virtual key is not admin
    listed = admin(url, "GET", "/admin/keys").json()["data"]
    assert len(listed) == 1 and key not in str(listed) and listed[0]["hint"].endswith("...")


def test_admin_api_disabled_without_admin_key(make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYBRIDGATE_ADMIN_KEY", raising=False)
    url = gw(make_gateway, admin_key=None)
    assert httpx.get(url + "/admin/keys", headers=bearer(ADMIN)).status_code == 403


def test_sql_ish_names_are_stored_verbatim(make_gateway: GatewayFactory) -> None:
    url = gw(make_gateway)
    nasty = "x'); DROP TABLE hg_keys; --"
    key, key_id = create_key(url, name=nasty, team=nasty)
    assert post(url, key).status_code == 200
    got = admin(url, "GET", f"/admin/keys/{key_id}").json()
    assert got["name"] == nasty and got["team"] == nasty
    assert admin(url, "GET", "/admin/teams").json()["data"][0]["name"] == nasty


def test_rpm_limit_429_with_headers(make_gateway: GatewayFactory) -> None:
    url = gw(make_gateway)
    key, _ = create_key(url, limits={"rpm": 3})
    oks = [post(url, key) for _ in range(3)]
    assert [r.status_code for r in oks] == [200, 200, 200]
    assert oks[0].headers["x-ratelimit-limit-requests"] == "3"
    assert [r.headers["x-ratelimit-remaining-requests"] for r in oks] == ["2", "1", "0"]
    r = post(url, key)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(r.headers["retry-after"]) >= 1 and r.headers["x-ratelimit-remaining-requests"] == "0"
    assert r.headers["x-ratelimit-reset-requests"]


def test_streaming_is_billed_like_non_streaming(make_gateway: GatewayFactory) -> None:
    seen = ListObserver()
    g = make_gateway(lambda s, e: access_config(s, e), Overrides(observers=[seen]))
    key, _ = create_key(g.url)
    assert post(g.url, key).status_code == 200
    with httpx.stream("POST", g.url + URL, json={**BODY, "stream": True}, headers=bearer(key), timeout=30) as r:
        assert r.status_code == 200 and b"[DONE]" in r.read()
    plain, streamed = seen.records[-2:]
    assert streamed.stream and not plain.stream
    assert (streamed.prompt_tokens, streamed.completion_tokens) == (plain.prompt_tokens, plain.completion_tokens)
    assert streamed.cost_usd == plain.cost_usd == 10.0  # 10 tokens at $1 (self-hosted GPU model), never $0
    assert not streamed.estimated


def test_stream_without_usage_is_counted_and_marked_estimated(make_gateway: GatewayFactory) -> None:
    seen = ListObserver()
    g = make_gateway(lambda s, e: access_config(s, e), Overrides(observers=[seen]))
    g.self_fake.script.usage_in_stream = False
    with httpx.stream("POST", g.url + URL, json={**BODY, "stream": True}, timeout=30) as r:
        r.read()
    rec = seen.records[-1]
    assert rec.estimated and rec.completion_tokens > 0 and rec.cost_usd > 0


def test_response_without_usage_is_counted_estimated_and_billed_like_its_stream(make_gateway: GatewayFactory) -> None:
    seen = ListObserver()
    g = make_gateway(lambda s, e: access_config(s, e), Overrides(observers=[seen]))
    g.self_fake.script.usage_in_body = g.self_fake.script.usage_in_stream = False
    g.self_fake.script.reply = "a reply long enough to be several tokens by any count"
    assert post(g.url).status_code == 200
    with httpx.stream("POST", g.url + URL, json={**BODY, "stream": True}, timeout=30) as r:
        assert r.status_code == 200 and b"[DONE]" in r.read()
    plain, streamed = seen.records[-2:]
    assert not plain.stream and streamed.stream
    assert plain.estimated and streamed.estimated
    assert plain.completion_tokens > 0 and plain.prompt_tokens > 0 and plain.cost_usd > 0
    assert (plain.prompt_tokens, plain.completion_tokens, plain.cost_usd) == (
        streamed.prompt_tokens,
        streamed.completion_tokens,
        streamed.cost_usd,
    )


def test_usage_reaches_the_store_and_admin_api(make_gateway: GatewayFactory) -> None:
    url = gw(make_gateway)
    key, key_id = create_key(url)
    for _ in range(3):
        post(url, key)
    deadline = time.monotonic() + 5
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = admin(url, "GET", "/admin/usage?by=key&since=1h").json()["data"]
        if rows and rows[0]["requests"] >= 3:
            break
        time.sleep(0.05)
    mine = next(r for r in rows if r["group"] == key_id)
    assert mine["requests"] == 3 and mine["cost_usd"] == pytest.approx(30.0)


def test_budget_spent_before_a_restart_still_refuses(make_gateway: GatewayFactory) -> None:
    g = make_gateway(lambda s, e: access_config(s, e))
    key, _ = create_key(g.url, budget={"daily_usd": 30})  # 3 requests at $10
    assert [post(g.url, key).status_code for _ in range(4)] == [200, 200, 200, 429]
    g.servers.stop_app(int(g.url.rsplit(":", 1)[1]))  # a clean stop writes every usage record
    port = g.servers.start_app(lambda: build_app(g.settings))  # same data directory, fresh counters
    r = post(f"http://127.0.0.1:{port}", key)
    assert r.status_code == 429 and r.json()["error"]["code"] == "budget_exceeded"
    assert "$30.0000 spent" in r.json()["error"]["message"]


async def test_fifty_concurrent_against_a_budget_for_ten(make_gateway: GatewayFactory) -> None:
    url = gw(make_gateway)
    key, _ = await asyncio.to_thread(create_key, url, budget={"daily_usd": 100})  # 10 requests at $10
    async with httpx.AsyncClient(timeout=30) as c:
        rs = await asyncio.gather(*(c.post(url + URL, json=BODY, headers=bearer(key)) for _ in range(50)))
        codes = [r.status_code for r in rs]
        assert 1 <= codes.count(200) <= 10 and codes.count(200) + codes.count(429) == 50
        refused = next(r for r in rs if r.status_code == 429)
        assert refused.json()["error"]["code"] == "budget_exceeded" and "daily budget" in refused.json()["error"][
            "message"]  # fmt: skip
        await asyncio.sleep(0.2)  # settles are background tasks
        after = await c.post(url + URL, json=BODY, headers=bearer(key))
        assert after.status_code == (429 if codes.count(200) == 10 else 200)
