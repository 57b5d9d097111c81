"""Load signals from the inference servers themselves, and the prediction that drives overflow.

vLLM, TGI and llama.cpp's server all export Prometheus text; a queue that grows faster than the batch
drains is what turns into TTFT, so the prediction is queue-based: an idle replica answers in about
`ttft_ms`, and every full batch of waiting requests ahead must finish first: it adds roughly one
typical request duration (`request_ms`), since running sequences free their slots as they complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# metric names per server: (waiting, running, kv-cache usage in 0..1)
SOURCES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "vllm": (("vllm:num_requests_waiting",), ("vllm:num_requests_running",),
             ("vllm:gpu_cache_usage_perc", "vllm:kv_cache_usage_perc")),
    "tgi": (("tgi_queue_size",), ("tgi_batch_current_size",), ()),
    "llamacpp": (("llamacpp:requests_deferred",), ("llamacpp:requests_processing",),
                 ("llamacpp:kv_cache_usage_ratio",)),
}  # fmt: skip
KV_FULL = 0.98


@dataclass(frozen=True, slots=True)
class LoadSample:
    waiting: float = 0.0
    running: float = 0.0
    kv_usage: float | None = None


def parse_prometheus(text: str) -> dict[str, float]:
    """Sums every sample of a metric across its labels. Comments and malformed lines are skipped."""
    out: dict[str, float] = {}
    for m in _SAMPLE.finditer(text):
        try:
            value = float(m.group(2))
        except ValueError:
            continue
        out[m.group(1)] = out.get(m.group(1), 0.0) + value
    return out


_SAMPLE = re.compile(r"^([A-Za-z_:][\w:]*)(?:\{[^}\n]*\})?[ \t]+(\S+)", re.MULTILINE)


def sample_from(source: str, metrics: dict[str, float]) -> LoadSample:
    waiting_names, running_names, kv_names = SOURCES[source]

    def first(names: tuple[str, ...]) -> float | None:
        return next((metrics[n] for n in names if n in metrics), None)

    return LoadSample(first(waiting_names) or 0.0, first(running_names) or 0.0, first(kv_names))


def predict(sample: LoadSample, idle_ttft_ms: float, request_ms: float, slo_ttft_ms: float | None) -> tuple[bool, str]:
    """(overloaded, note). Pure: the same sample always gives the same answer."""
    batches_ahead = sample.waiting / max(1.0, sample.running)
    predicted = idle_ttft_ms + batches_ahead * request_ms
    note = f"{sample.waiting:g} waiting, {sample.running:g} running, predicted TTFT {predicted:.0f} ms"
    if sample.kv_usage is not None and sample.kv_usage >= KV_FULL and sample.waiting > 0:
        return True, note + f", KV cache {sample.kv_usage:.0%} full"
    if slo_ttft_ms is not None and predicted > slo_ttft_ms:
        return True, note + f" > SLO {slo_ttft_ms:g} ms"
    return False, note
