"""Bad input gets a clear OpenAI-shaped error with the right status, never a crash."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Gateway

CHAT = "/v1/chat/completions"


def post(gw: Gateway, path: str, **kw: object) -> httpx.Response:
    return httpx.post(gw.url + path, timeout=10, **kw)  # type: ignore[arg-type]


def assert_error(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    assert r.headers["x-hybridgate-request-id"]
    return err  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"", 400, "empty_body"),
        (b"   ", 400, "empty_body"),
        (b"[1, 2]", 400, "invalid_type"),
        (b'"text"', 400, "invalid_type"),
        (b'{"model": "auto"}', 400, "missing_required_parameter"),
        (b'{"model": "auto", "messages": "hi"}', 400, "invalid_type"),
        (b'{"model": "auto", "messages": []}', 400, None),
        (b'{"model": "auto", "messages": [1]}', 400, "invalid_type"),
        (b'{"model": "auto", "messages": [{"role": "wizard", "content": "x"}]}', 400, None),
        (b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}', 400, "invalid_type"),
        (b'{"model": "auto", "stream": "yes", "messages": [{"role": "user", "content": "x"}]}', 400, "invalid_type"),
        (b'{"model": "auto", "max_tokens": -1, "messages": [{"role": "user", "content": "x"}]}', 400, "invalid_type"),
        (b'{"model": "nope", "messages": [{"role": "user", "content": "x"}]}', 404, "model_not_found"),
    ],
)
def test_bad_chat_bodies(gateway: Gateway, content: bytes, status: int, code: str | None) -> None:
    err = assert_error(post(gateway, CHAT, content=content, headers={"content-type": "application/json"}), status)
    if code:
        assert err["code"] == code
    assert gateway.self_fake.received == [] and gateway.ext_fake.received == []


def test_body_over_limit_is_413(make_gateway: object) -> None:
    from tests.conftest import minimal_config

    gw = make_gateway(lambda s, e: {**minimal_config(s, e), "server": {"max_body_bytes": 2048}})  # type: ignore[operator]
    big = b'{"model": "auto", "messages": [{"role": "user", "content": "' + b"a" * 5000 + b'"}]}'
    assert_error(post(gw, CHAT, content=big), 413)


def test_bad_hint_header_is_400(gateway: Gateway) -> None:
    body = {"model": "auto", "messages": [{"role": "user", "content": "x"}]}
    err = assert_error(post(gateway, CHAT, json=body, headers={"x-hybridgate-data-class": "secret"}), 400)
    assert err["param"] == "x-hybridgate-data-class"


def test_unknown_route_and_wrong_method(gateway: Gateway) -> None:
    assert_error(httpx.get(gateway.url + "/v1/nothing-here"), 404)
    assert_error(httpx.get(gateway.url + CHAT), 405)
    assert_error(post(gateway, "/v1/models", json={}), 405)


def test_completions_and_embeddings_validation(gateway: Gateway) -> None:
    assert_error(post(gateway, "/v1/completions", json={"model": "auto"}), 400)
    assert_error(post(gateway, "/v1/embeddings", json={"model": "auto", "input": []}), 400)
    assert_error(post(gateway, "/v1/embeddings", json={"model": "auto"}), 400)


def test_upstream_client_error_is_returned_not_rerouted(gateway: Gateway) -> None:
    gateway.self_fake.script.status = 400
    gateway.self_fake.script.error_body = {"error": {"message": "content policy violation", "type": "invalid_request"}}
    r = post(gateway, CHAT, json={"model": "auto", "messages": [{"role": "user", "content": "x"}]})
    err = assert_error(r, 400)
    assert "content policy" in str(err["message"])
    assert gateway.ext_fake.received == []


def test_explain_without_calling_any_model(gateway: Gateway) -> None:
    body = {"model": "auto", "messages": [{"role": "user", "content": "My SSN is 536-22-8417"}]}
    r = post(gateway, "/v1/route/explain", json=body)
    assert r.status_code == 200
    out = r.json()
    assert out["decision"]["rule"] == "sensitive-self-hosted"
    assert out["decision"]["allowed_trust"] == ["self_hosted"]
    assert out["signals"]["findings"] == {"US_SSN": 1}
    assert "536-22-8417" not in r.text
    assert [c["endpoint"] for c in out["candidates"]] == ["local-vllm"]
    assert gateway.self_fake.received == [] and gateway.ext_fake.received == []


def test_health_and_readiness(gateway: Gateway) -> None:
    assert httpx.get(gateway.url + "/healthz").json() == {"status": "ok"}
    r = httpx.get(gateway.url + "/readyz")
    assert r.status_code == 200 and r.json()["tiers"] == {"self_hosted": True, "frontier": True}


def test_readiness_reports_a_dead_tier(make_gateway: object) -> None:
    gw = make_gateway()  # type: ignore[operator]
    gw.ext_fake.script.status = 503
    r = httpx.get(gw.url + "/readyz")
    assert r.status_code == 503 and r.json()["tiers"]["frontier"] is False


def test_requests_refused_before_planning_are_counted(gateway: Gateway) -> None:
    post(gateway, CHAT, content=b"{not json", headers={"content-type": "application/json"})
    metrics = httpx.get(gateway.url + "/metrics").text
    refused = [
        line
        for line in metrics.splitlines()
        if line.startswith("hybridgate_requests_total") and 'rule="rejected"' in line and 'status="400"' in line
    ]
    assert refused and float(refused[0].rsplit(" ", 1)[1]) >= 1


def test_admin_body_over_limit_is_openai_shaped_413(make_gateway: object) -> None:
    from tests.integration.access_helpers import access_config, admin

    gw = make_gateway(lambda s, e: {**access_config(s, e), "server": {"max_body_bytes": 2048}})  # type: ignore[operator]
    big = b'{"name": "' + b"a" * 5000 + b'"}'
    err = assert_error(admin(gw.url, "POST", "/admin/keys", content=big), 413)
    assert err["message"] == "request body too large"


def test_unknown_routes_answer_in_the_shape_of_their_api(gateway: Gateway) -> None:
    err = assert_error(httpx.delete(gateway.url + "/v1/chat/completions/extra"), 404)
    assert err["code"] == "unknown_route" and "DELETE /v1/chat/completions/extra" in str(err["message"])
    r = httpx.get(gateway.url + "/v1/messages")
    assert r.status_code == 405 and r.json()["type"] == "error" and r.json()["error"]["message"]
    r = httpx.post(gateway.url + "/v1/messages/nothing", json={})
    assert r.status_code == 404 and r.json()["type"] == "error" and r.headers["x-hybridgate-request-id"]
    assert httpx.get(gateway.url + "/").status_code == 404
