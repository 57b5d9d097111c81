"""Sensitive lines in a batch never reach an external endpoint, even when their deadline expires;
public lines whose deadline is at risk may overflow to the external tier."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import openai

from tests.conftest import GatewayFactory, minimal_config
from tests.integration.test_batch_sdk import EP, lines_of, req, wait_batch

SSN = "My SSN is 536-22-8417, summarise my case file"


def config(tmp_path: Path) -> Any:
    def make(s: str, e: str) -> dict[str, Any]:
        cfg = minimal_config(s, e)
        cfg["endpoints"][0]["max_in_flight"] = 1
        cfg["tiers"]["self_hosted"]["fallback"] = ["frontier"]
        # reserve 50% of one slot for interactive traffic: batch never gets self-hosted capacity, and
        # a 300 s margin puts every job of a 2 s window "at risk" at once
        jobs = {"db_path": str(tmp_path / "jobs.db"), "poll_interval_s": 0.05, "reserve_ratio": 0.5,
                "overflow_margin_s": 300}  # fmt: skip
        return {**cfg, "jobs": jobs}

    return make


def test_sensitive_lines_expire_rather_than_leave(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gw = make_gateway(config(tmp_path))
    c = openai.OpenAI(base_url=gw.url + "/v1", api_key="k", max_retries=0)
    data = "\n".join([req("pub1", "summarise the weather report"), req("ssn1", SSN),
                      req("pub2", "classify this ticket"), req("ssn2", SSN.replace("8417", "8418"))])  # fmt: skip
    f = c.files.create(file=("in.jsonl", io.BytesIO(data.encode())), purpose="batch")
    b = wait_batch(c, c.batches.create(input_file_id=f.id, endpoint=EP, completion_window="2s").id)  # type: ignore[arg-type]
    assert b.status == "expired"
    out = {r["custom_id"]: r for r in lines_of(c, b.output_file_id)}
    assert set(out) == {"pub1", "pub2"}
    assert all(r["response"]["body"]["choices"][0]["message"]["content"] == "hello from external" for r in out.values())
    errs = {r["custom_id"]: r["error"]["code"] for r in lines_of(c, b.error_file_id)}
    assert set(errs) == {"ssn1", "ssn2"} and set(errs.values()) <= {"deadline_exceeded", "batch_expired"}
    received = json.dumps([r["body"] for r in gw.ext_fake.received])
    assert "536-22-84" not in received and len(gw.ext_fake.received) == 2
