"""What a finished request's record may carry of its text, and only when an operator asked for it.

- `prompt` for the request log line (`observability.logs.prompts`): every text of the request with each
  finding replaced by `[TYPE]`. A request whose detector failed has unknown findings, so its line gets
  a marker instead of text (fail closed, as the boundary does).
- `payload` for the audit row (`observability.audit.capture`): the request as the client sent it and the
  answer as the client received it (a stream's text assembled), sealed with AES-GCM under the request
  id. The clear text is never put on a record, so no other observer can see it.

The pipeline keeps the request as sent (`Plan.source`) and the upstream answer (`Plan.output`) only while
a tap is installed; `extras` turns them into the two record fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from hybridgate.access.tokens import StreamTally, choice_chunks
from hybridgate.detect.extract import request_fields
from hybridgate.detect.findings import Finding
from hybridgate.errors import ConfigError
from hybridgate.observe.audit.capture import Sealer, sealer_from_env
from hybridgate.observe.config import ObservabilityConfig
from hybridgate.observe.logging import redact_text

if TYPE_CHECKING:
    from hybridgate.pipeline import Plan

UNSCANNED = "[UNSCANNED: detection failed]"


def redacted_prompt(body: Mapping[str, Any], findings: Iterable[Finding]) -> str:
    """Every text the model reads, one per line, each finding replaced by its type."""
    by_field: dict[tuple[int | None, str | None], list[Finding]] = {}
    for f in findings:
        by_field.setdefault((f.message, f.field), []).append(f)
    return "\n".join(redact_text(tf.text, by_field.get((tf.message, tf.field), ())) for tf in request_fields(body))


def stream_text(events: Iterable[bytes]) -> str:
    """The text a chat or completions stream delivered, assembled from its deltas."""
    parts: list[str] = []
    for obj in choice_chunks(events):
        for choice in obj.get("choices") or () if isinstance(obj, dict) else ():
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            for text in (delta.get("content") if isinstance(delta, dict) else None, choice.get("text")):
                if isinstance(text, str):
                    parts.append(text)
    return "".join(parts)


def answer_of(output: bytes | None, events: Sequence[bytes] | None) -> Any:
    """The upstream answer as a JSON value: the body of a call, or `{"stream_text": ...}` for a stream."""
    if output is not None:
        try:
            return orjson.loads(output)
        except orjson.JSONDecodeError:
            return output.decode("utf-8", "replace")
    if events:
        return {"stream_text": stream_text(events)}
    return None


@dataclass(frozen=True, slots=True)
class Tap:
    sealer: Sealer | None = None
    prompts: bool = False

    def extras(self, plan: Plan) -> tuple[str | None, dict[str, str] | None]:
        """(prompt for the log line, sealed payload for the audit row) of a finished request."""
        body = plan.source
        if body is None:
            return None, None
        prompt = None
        if self.prompts:
            s = plan.signals
            prompt = UNSCANNED if s.detector_error is not None else redacted_prompt(body, s.findings)
        sealed = None
        if self.sealer is not None:
            events = plan.tally.events if isinstance(plan.tally, StreamTally) and plan.output is None else None
            answer = answer_of(plan.output, events)
            if plan.restorer is not None and isinstance(answer, dict) and "stream_text" in answer:
                # a redacted request's stream is tallied as the upstream sent it; the client got the originals
                answer = {"stream_text": plan.restorer.restore(answer["stream_text"])}
            sealed = self.sealer.seal(plan.request_id, {"request": body, "response": answer})
        return prompt, sealed


def tap_for(cfg: ObservabilityConfig) -> Tap | None:
    """The tap the config asks for, or None; a capture without a usable key stops startup here."""
    capture = cfg.audit.enabled and cfg.audit.capture
    if cfg.audit.capture and not cfg.audit.enabled:
        raise ConfigError("observability.audit.capture needs the audit trail: set observability.audit.enabled")
    sealer = sealer_from_env(cfg.audit.capture_key_env) if capture else None
    prompts = cfg.logs.requests and cfg.logs.prompts
    return Tap(sealer, prompts) if sealer is not None or prompts else None
