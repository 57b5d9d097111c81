"""Opt-in payload capture (sealed into the audit row) and prompt logging (redacted) on a running gateway."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml
from typer.testing import CliRunner

from hybridgate.app import build_app
from hybridgate.cli import app as cli
from hybridgate.errors import ConfigError
from hybridgate.settings import parse_settings
from tests.conftest import GatewayFactory, minimal_config

CANARY_SSN = "536-22-8417"
CANARY_MAIL = "zebulon.canary@example.org"
CANARIES = (CANARY_SSN, CANARY_MAIL, "536228417", "zebulon")


def with_observability(obs: dict[str, Any]) -> Callable[[str, str], dict[str, Any]]:
    def config(self_url: str, ext_url: str) -> dict[str, Any]:
        return {**minimal_config(self_url, ext_url), "observability": obs}

    return config


def chat(gw: str, content: str, *, stream: bool = False) -> httpx.Response:
    body = {"model": "auto", "messages": [{"role": "user", "content": content}], "stream": stream}
    r = httpx.post(gw + "/v1/chat/completions", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r


def stored_bytes(data_dir: Path) -> bytes:
    """Everything the embedded audit store has on disk, WAL included."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("audit.db*")))


def show(tmp_path: Path, rid: str, *extra: str) -> Any:
    cfg = tmp_path / "hg.yaml"
    cfg.write_text(yaml.safe_dump(minimal_config("http://127.0.0.1:9", "http://127.0.0.1:9")))
    return CliRunner().invoke(cli, ["audit", "show", rid, "-c", str(cfg), *extra])


def test_captured_payload_is_sealed_at_rest_and_opens_with_the_key(
    make_gateway: GatewayFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYBRIDGATE_AUDIT_KEY", os.urandom(32).hex())
    gw = make_gateway(with_observability({"audit": {"capture": True}}))
    gw.self_fake.script.echo = True  # the answer repeats the canaries, so both sides of the capture hold them
    asked = f"My SSN is {CANARY_SSN}, mail {CANARY_MAIL}"
    plain = chat(gw.url, asked).headers["x-hybridgate-request-id"]
    streamed = chat(gw.url, asked, stream=True).headers["x-hybridgate-request-id"]

    at_rest = stored_bytes(Path(os.environ["HYBRIDGATE_DATA_DIR"]))
    assert plain.encode() in at_rest  # the rows are there, so the check below means something
    for canary in CANARIES:
        assert canary.encode() not in at_rest.lower(), canary

    sealed = show(tmp_path, plain)
    assert sealed.exit_code == 0, sealed.output
    assert '"ct"' in sealed.output and CANARY_SSN not in sealed.output

    opened = show(tmp_path, plain, "--decrypt")
    assert opened.exit_code == 0, opened.output
    payload = orjson.loads(opened.stdout)["entry"]["payload"]
    assert payload["request"]["messages"][0]["content"] == asked
    assert payload["response"]["choices"][0]["message"]["content"] == asked

    opened = show(tmp_path, streamed, "--decrypt")
    assert opened.exit_code == 0, opened.output
    payload = orjson.loads(opened.stdout)["entry"]["payload"]
    assert payload["request"]["stream"] is True and payload["response"] == {"stream_text": asked}

    monkeypatch.setenv("HYBRIDGATE_AUDIT_KEY", os.urandom(32).hex())
    wrong = show(tmp_path, plain, "--decrypt")
    said = " ".join(wrong.output.split())  # the console wraps long lines
    assert wrong.exit_code == 2 and "wrong key" in said and CANARY_SSN not in said


def test_without_capture_no_payload_is_stored(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = make_gateway()
    rid = chat(gw.url, "Say hi").headers["x-hybridgate-request-id"]
    r = show(tmp_path, rid)
    assert r.exit_code == 0 and orjson.loads(r.stdout)["entry"]["request_id"] == rid
    assert "payload" not in orjson.loads(r.stdout)["entry"]


@pytest.mark.parametrize(
    ("key", "words"),
    [(None, "needs a key: set $HYBRIDGATE_AUDIT_KEY"), ("not-a-key", "must be 32 bytes")],
)
def test_capture_without_a_usable_key_stops_startup(
    key: str | None, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if key is None:
        monkeypatch.delenv("HYBRIDGATE_AUDIT_KEY", raising=False)
    else:
        monkeypatch.setenv("HYBRIDGATE_AUDIT_KEY", key)
    raw = with_observability({"audit": {"capture": True}})("http://127.0.0.1:9", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match=words.replace("$", r"\$")):
        build_app(parse_settings(raw))


def test_retention_without_checkpoint_key_stops_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HYBRIDGATE_AUDIT_HMAC_KEY", raising=False)
    raw = with_observability({"audit": {"retention_days": 30}})("http://127.0.0.1:9", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="HYBRIDGATE_AUDIT_HMAC_KEY"):
        build_app(parse_settings(raw))


def request_lines(out: str) -> dict[str, dict[str, Any]]:
    lines = (orjson.loads(ln) for ln in out.splitlines() if ln.startswith("{") and '"event":"request"' in ln)
    return {line["request_id"]: line for line in lines}


def test_logged_prompt_has_every_finding_redacted(
    make_gateway: GatewayFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    gw = make_gateway(with_observability({"logs": {"prompts": True}}))
    rid = chat(gw.url, f"My SSN is {CANARY_SSN}, write to {CANARY_MAIL} please").headers["x-hybridgate-request-id"]
    clean = chat(gw.url, "Say hi").headers["x-hybridgate-request-id"]
    out = capfd.readouterr().out
    lines = request_lines(out)
    prompt = lines[rid]["prompt"]
    assert prompt.startswith("My SSN is [") and prompt.endswith("] please")
    assert "[US_SSN]" in prompt and "[EMAIL_ADDRESS]" in prompt, prompt
    assert lines[clean]["prompt"] == "Say hi"
    for canary in CANARIES:
        assert canary not in out.lower(), canary


def test_prompts_are_not_logged_unless_asked(make_gateway: GatewayFactory, capfd: pytest.CaptureFixture[str]) -> None:
    gw = make_gateway()
    rid = chat(gw.url, "Say hi").headers["x-hybridgate-request-id"]
    assert "prompt" not in request_lines(capfd.readouterr().out)[rid]


@pytest.mark.services
def test_gateway_on_a_postgres_audit_store_keeps_one_chain_across_restarts(make_gateway: GatewayFactory) -> None:
    import asyncio
    import uuid

    import asyncpg

    from hybridgate.observe.audit.ops import open_store, verify
    from hybridgate.observe.config import AuditConfig

    pg = os.environ.get("HYBRIDGATE_TEST_PG", "postgresql://root@127.0.0.1:5432/test")
    schema = f"hgaudit_{uuid.uuid4().hex[:10]}"
    url = f"{pg}?schema={schema}"
    try:
        ids = []
        for _ in range(2):  # the second gateway is a restart: a new writer reads the head back
            gw = make_gateway(with_observability({"audit": {"url": url}}))
            ids += [chat(gw.url, "Say hi").headers["x-hybridgate-request-id"] for _ in range(20)]
        store = open_store(AuditConfig(url=url))
        v = verify(store, None)
        written = {orjson.loads(r.body)["request_id"] for r in store.rows()}
        store.close()
        assert v.ok and v.rows == 40 and set(ids) == written
    finally:

        async def drop() -> None:
            conn = await asyncpg.connect(pg)
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()

        asyncio.run(drop())
