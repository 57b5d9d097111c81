"""OpenTelemetry spans for the request and each stage, with GenAI semantic-convention attributes.

Off by default, and then free: `stage()` and `attempt()` hand back one shared no-op context manager,
so no span object is ever created, and the request middleware is not installed at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, cast

from aiohttp import web
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from hybridgate.observe.config import TracingConfig
from hybridgate.store.records import UsageRecord


class _NoSpan:
    """What `stage()` and `attempt()` hand out while tracing is off: a context manager whose `__enter__`
    and `__exit__` are one C function, an empty string's `format` (it takes any arguments and returns "",
    which is false, so an exception passes through), instead of Python methods as `nullcontext` has:
    two C calls rather than two Python frames for every stage of every request."""

    __slots__ = ()
    __enter__ = __exit__ = "".format


_NOOP: AbstractContextManager[Any] = cast(AbstractContextManager[Any], _NoSpan())
_tracer: Tracer | None = None
_provider: TracerProvider | None = None
_system: dict[str, str] = {}  # endpoint -> gen_ai.system
_propagator = TraceContextTextMapPropagator()
_OPERATION = {"chat": "chat", "completions": "text_completion", "embeddings": "embeddings"}
# gen_ai.system values from the semantic conventions; self-hosted OpenAI-compatible servers have none
_KIND_SYSTEM = {"openai": "openai", "azure": "az.ai.openai", "anthropic": "anthropic", "gemini": "gcp.gemini"}


def enabled() -> bool:
    return _tracer is not None


def configure(
    cfg: TracingConfig, endpoint_kinds: Mapping[str, str], *, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Installs the tracer (process-wide). `exporter` overrides config: tests pass an in-memory one."""
    global _tracer, _provider
    if exporter is None and cfg.exporter == "off":
        return None
    provider = TracerProvider(
        resource=Resource.create({"service.name": cfg.service_name}),
        sampler=ParentBasedTraceIdRatio(cfg.sample_ratio),
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_exporter(cfg)))
    _system.clear()
    _system.update({n: _KIND_SYSTEM.get(k, "hybridgate.self_hosted") for n, k in endpoint_kinds.items()})
    _provider, _tracer = provider, provider.get_tracer("hybridgate")
    return provider


def _exporter(cfg: TracingConfig) -> SpanExporter:
    if cfg.exporter == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            import logging

            logging.getLogger("hybridgate").warning(
                "opentelemetry-exporter-otlp-proto-http is not installed; printing spans to the console"
            )
            return ConsoleSpanExporter()
        exp: SpanExporter = OTLPSpanExporter(endpoint=cfg.endpoint) if cfg.endpoint else OTLPSpanExporter()
        return exp
    return ConsoleSpanExporter()


def shutdown() -> None:
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _tracer, _provider = None, None


# -- hooks the pipeline calls -----------------------------------------------------------------------
def stage(name: str) -> AbstractContextManager[Any]:
    if _tracer is None:
        return _NOOP
    return _tracer.start_as_current_span(f"hybridgate.{name}")


def attempt(op: str, endpoint: str, model: str, trust: str) -> AbstractContextManager[Any]:
    if _tracer is None:
        return _NOOP
    operation = _OPERATION.get(op, op)
    attrs = {
        "gen_ai.operation.name": operation,
        "gen_ai.system": _system.get(endpoint, "hybridgate.self_hosted"),
        "gen_ai.request.model": model,
        "hybridgate.endpoint": endpoint,
        "hybridgate.trust": trust,
    }
    return _tracer.start_as_current_span(f"{operation} {model}", kind=SpanKind.CLIENT, attributes=attrs)


@web.middleware
async def request_span(request: web.Request, handler: Any) -> web.StreamResponse:
    """The request span; installed only when tracing is on. Continues an incoming W3C traceparent."""
    if _tracer is None:
        resp: web.StreamResponse = await handler(request)
        return resp
    parent = _propagator.extract(request.headers) if "traceparent" in request.headers else None
    attrs = {"http.request.method": request.method, "url.path": request.path}
    with _tracer.start_as_current_span(
        f"{request.method} {request.path}", context=parent, kind=SpanKind.SERVER, attributes=attrs
    ) as span:
        resp = await handler(request)
        span.set_attribute("http.response.status_code", resp.status)
        return resp


class TracingObserver:
    """Puts the outcome on the request span: gen_ai usage, route and decision (labels only)."""

    def observe(self, rec: UsageRecord) -> None:
        span = trace.get_current_span()
        if not span.is_recording():
            return
        attrs: dict[str, Any] = {
            "gen_ai.usage.input_tokens": rec.prompt_tokens,
            "gen_ai.usage.output_tokens": rec.completion_tokens,
            "hybridgate.request_id": rec.request_id,
            "hybridgate.rule": rec.rule_id,
            "hybridgate.data_class": rec.data_class,
            "hybridgate.status": rec.status,
            "hybridgate.attempts": len(rec.attempts),
            "hybridgate.finding_types": sorted(rec.finding_counts),
        }
        if rec.model:
            attrs["gen_ai.response.model"] = rec.model
        if rec.endpoint:
            attrs["gen_ai.system"] = _system.get(rec.endpoint, "hybridgate.self_hosted")
            attrs["hybridgate.endpoint"] = rec.endpoint
        if rec.tier:
            attrs["hybridgate.tier"] = rec.tier
        if rec.ttft_ms is not None:
            attrs["hybridgate.ttft_ms"] = rec.ttft_ms
        span.set_attributes(attrs)
