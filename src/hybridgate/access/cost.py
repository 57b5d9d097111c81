"""The pipeline's cost function: USD for one request from its endpoint, model and usage.

API endpoints: the economics catalogue (input / cached input / output per million tokens).
Self-hosted endpoints: the GPU time the request used, from `access.costs[endpoint]` (GPU, count, hourly
price, throughput), with anything left out taken from the catalogue and the reference throughputs. A
self-hosted call is never $0: the GPUs are paid for whether or not the tokens are counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from hybridgate.access.config import AccessConfig, EndpointCost
from hybridgate.economics.catalogue import Catalogue, load_catalogue
from hybridgate.economics.errors import EconomicsError
from hybridgate.economics.pricing import PER_MILLION, self_hosted_cost_per_token
from hybridgate.economics.throughput import load_throughputs, reference_throughput
from hybridgate.errors import GatewayError
from hybridgate.labels import Trust
from hybridgate.settings import Settings

log = logging.getLogger("hybridgate.cost")
CostFn = Callable[[str, str, Mapping[str, Any]], float]
FALLBACK_TOKENS_PER_S = 2000.0  # a self-hosted model with no reference throughput: a modest 1-GPU replica


def _tokens(usage: Mapping[str, Any]) -> tuple[int, int, int]:
    details = usage.get("prompt_tokens_details")
    cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
    prompt = int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0)
    completion = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
    return prompt, completion, cached


def gpu_per_token(cfg: EndpointCost, model: str, cat: Catalogue) -> float:
    """USD per token on a self-hosted replica."""
    hourly = cfg.gpu_hourly_usd
    if hourly is None:
        hourly = cat.gpu(cfg.gpu).on_demand or 0.0
    tps = cfg.throughput_tokens_per_s
    if tps is None:
        try:
            tps = reference_throughput(load_throughputs(), cat, model, cfg.gpu, cfg.gpus).tokens_per_s
        except GatewayError:
            tps = FALLBACK_TOKENS_PER_S * cfg.gpus
    return self_hosted_cost_per_token(hourly, cfg.gpus, tps, cfg.utilisation)


# (USD per token when self-hosted, else None; input, cached input, output USD per million tokens, or None
# for a model the catalogue does not price)
Rates = tuple[float | None, float | None, float, float]


class CostModel:
    def __init__(self, trust: Mapping[str, Trust], costs: Mapping[str, EndpointCost], cat: Catalogue) -> None:
        self.trust = dict(trust)
        self.costs = dict(costs)
        self.cat = cat
        self._warned: set[str] = set()
        # worked out once per (endpoint, model); admission reads it directly on the request path
        self.known_rates: dict[tuple[str, str], Rates] = {}

    def per_token(self, endpoint: str, model: str) -> float:
        return gpu_per_token(self.costs.get(endpoint, EndpointCost()), model, self.cat)

    def rates(self, endpoint: str, model: str) -> Rates:
        r = self.known_rates.get((endpoint, model))
        if r is not None:
            return r
        if self.trust.get(endpoint) == Trust.SELF_HOSTED or endpoint in self.costs:
            r = (self.per_token(endpoint, model), None, 0.0, 0.0)
        elif not self.cat.has_model(model):
            r = (None, None, 0.0, 0.0)
        else:
            price = self.cat.model(model)
            r = (None, price.input, price.input if price.cached_input is None else price.cached_input, price.output)
        if len(self.known_rates) < 4096:  # model names come from clients: bounded
            self.known_rates[(endpoint, model)] = r
        return r

    def __call__(self, endpoint: str, model: str, usage: Mapping[str, Any]) -> float:
        r = self.known_rates.get((endpoint, model))
        if r is not None and r[0] is not None:  # self-hosted, rates known: _tokens and token_cost, inlined
            details = usage.get("prompt_tokens_details")
            if isinstance(details, dict):
                int(details.get("cached_tokens") or 0)  # unused here, but a bad value is refused as _tokens does
            prompt = int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0)
            completion = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
            return (prompt + completion) * r[0]
        prompt, completion, cached = _tokens(usage)
        return self.token_cost(endpoint, model, prompt, completion, cached)

    def token_cost(self, endpoint: str, model: str, prompt: int, completion: int, cached: int = 0) -> float:
        """USD for these token counts: the same arithmetic as pricing.api_cost, prices looked up once."""
        gpu, price_in, price_cached, price_out = self.rates(endpoint, model)
        if gpu is not None:
            return (prompt + completion) * gpu
        if price_in is None:
            if model not in self._warned:
                self._warned.add(model)
                log.warning("no price for model %r in the catalogue: its requests are recorded at $0", model)
            return 0.0
        if min(prompt, completion, cached) < 0:
            raise EconomicsError("token counts cannot be negative", param="tokens")
        hit = min(cached, prompt)
        return ((prompt - hit) * price_in + hit * price_cached + completion * price_out) / PER_MILLION


def build_cost(settings: Settings, access: AccessConfig) -> CostModel:
    return CostModel({e.name: e.trust for e in settings.endpoints}, access.costs, load_catalogue())
