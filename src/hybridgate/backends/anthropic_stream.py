"""Streaming translation between Anthropic's event stream and OpenAI chat chunks. Pure state machines.

Anthropic -> OpenAI (the Anthropic backend): message_start, content_block_*, message_delta, message_stop
become role / content / tool_call deltas, a finish chunk and a final usage chunk (`choices: []`).
OpenAI -> Anthropic (the /v1/messages front door): the reverse; usage arrives in OpenAI's last chunk, so
message_delta (stop reason + usage) is emitted only when the stream ends.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hybridgate.backends.anthropic_response import (
    finish_reason,
    new_id,
    stop_reason,
    usage_to_anthropic,
    usage_to_openai,
)
from hybridgate.backends.openai_chat import ChunkWriter
from hybridgate.errors import UpstreamError

Event = tuple[str, dict[str, Any]]  # (event name, data)


@dataclass
class AnthropicToOpenAI(ChunkWriter):
    model: str
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))
    usage: dict[str, Any] = field(default_factory=dict)
    tool_index: dict[int, int] = field(default_factory=dict)  # content block index -> tool_calls index

    def feed(self, ev: Mapping[str, Any]) -> list[dict[str, Any]]:
        kind = ev.get("type")
        if kind == "message_start":
            msg = ev.get("message") or {}
            self.id = "chatcmpl-" + str(msg.get("id", "")).removeprefix("msg_")
            self.model = msg.get("model") or self.model
            self.usage.update(msg.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(int(ev.get("index", 0)), ev.get("content_block") or {})
        if kind == "content_block_delta":
            return self._delta(int(ev.get("index", 0)), ev.get("delta") or {})
        if kind == "message_delta":
            self.usage.update({k: v for k, v in (ev.get("usage") or {}).items() if v is not None})
            reason = finish_reason((ev.get("delta") or {}).get("stop_reason"))
            return [self._chunk({}, reason or "stop")]
        if kind == "message_stop":
            return [self._usage_chunk(usage_to_openai(self.usage))]
        if kind == "error":
            err = ev.get("error") or {}
            raise UpstreamError(
                f"anthropic stream error: {str(err.get('message', ''))[:300]}",
                code=f"upstream_{err.get('type', 'error')}",
            )
        return []  # ping, content_block_stop, thinking and unknown events carry nothing for OpenAI

    def _block_start(self, index: int, block: Mapping[str, Any]) -> list[dict[str, Any]]:
        if block.get("type") == "tool_use":
            n = self.tool_index[index] = len(self.tool_index)
            call = {"index": n, "id": block.get("id", ""), "type": "function"}
            call["function"] = {"name": block.get("name", ""), "arguments": ""}
            return [self._chunk({"tool_calls": [call]})]
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        return []

    def _delta(self, index: int, delta: Mapping[str, Any]) -> list[dict[str, Any]]:
        if delta.get("type") == "text_delta":
            return [self._chunk({"content": delta.get("text", "")})]
        if delta.get("type") == "input_json_delta" and index in self.tool_index:
            call = {"index": self.tool_index[index], "function": {"arguments": delta.get("partial_json", "")}}
            return [self._chunk({"tool_calls": [call]})]
        return []


@dataclass
class OpenAIToAnthropic:
    model: str
    id: str = field(default_factory=lambda: new_id("msg_"))
    started: bool = False
    block: int = -1  # index of the open content block, -1 when none
    block_kind: str = ""
    tool_blocks: dict[int, int] = field(default_factory=dict)  # tool_calls index -> block index
    finish: str | None = None
    usage: dict[str, Any] | None = None

    def _start(self) -> list[Event]:
        self.started = True
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def _close(self) -> list[Event]:
        if self.block < 0 or not self.block_kind:
            return []
        self.block_kind = ""
        return [("content_block_stop", {"type": "content_block_stop", "index": self.block})]

    def _open(self, kind: str, content_block: dict[str, Any]) -> list[Event]:
        out = self._close()
        self.block += 1
        self.block_kind = kind
        start = {"type": "content_block_start", "index": self.block, "content_block": content_block}
        return [*out, ("content_block_start", start)]

    def _delta(self, delta: dict[str, Any]) -> Event:
        return ("content_block_delta", {"type": "content_block_delta", "index": self.block, "delta": delta})

    def feed(self, chunk: Mapping[str, Any]) -> list[Event]:
        out = [] if self.started else self._start()
        if isinstance(chunk.get("usage"), Mapping):
            self.usage = dict(chunk["usage"])
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if text:
                if self.block_kind != "text":
                    out += self._open("text", {"type": "text", "text": ""})
                out.append(self._delta({"type": "text_delta", "text": text}))
            for call in delta.get("tool_calls") or ():
                out += self._tool_delta(call)
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        return out

    def _tool_delta(self, call: Mapping[str, Any]) -> list[Event]:
        out: list[Event] = []
        n = int(call.get("index", 0))
        fn = call.get("function") or {}
        if n not in self.tool_blocks:
            block = {"type": "tool_use", "id": call.get("id") or new_id("toolu_"), "name": fn.get("name", "")}
            out += self._open("tool_use", {**block, "input": {}})
            self.tool_blocks[n] = self.block
        if fn.get("arguments") and self.tool_blocks[n] == self.block:
            out.append(self._delta({"type": "input_json_delta", "partial_json": fn["arguments"]}))
        return out

    def end(self) -> list[Event]:
        out = [] if self.started else self._start()
        out += self._close()
        usage = usage_to_anthropic(self.usage or {})
        delta = {"stop_reason": stop_reason(self.finish or "stop"), "stop_sequence": None}
        out.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        out.append(("message_stop", {"type": "message_stop"}))
        return out
