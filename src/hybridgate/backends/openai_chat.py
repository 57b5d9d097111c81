"""The pieces of OpenAI's chat format that the translating backends (Anthropic, Gemini, local) read and
write: message content in, `chat.completion.chunk` objects out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def content_text(content: Any) -> str:
    """The text of a message's content, a string or a list of parts; image parts carry none."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text")
    return ""


def data_url(url: str) -> tuple[str, str] | None:
    """(media type, base64 data) of an inline `data:...;base64,...` image; None for a fetchable URL."""
    if url.startswith("data:") and ";base64," in url:
        media, data = url[5:].split(";base64,", 1)
        return media, data
    return None


class ChunkWriter:
    """Chunks of one streamed completion. The translating state machines set these three fields."""

    id: str
    created: int
    model: str

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [choice],
        }

    def _usage_chunk(self, usage: dict[str, Any]) -> dict[str, Any]:
        """OpenAI's last chunk under `stream_options.include_usage`: no choices, the whole usage."""
        return {**self._chunk({}), "choices": [], "usage": usage}
