"""What one request costs: on an API from the catalogue, on self-hosted GPUs from their hourly price.

These are the functions the usage recorder calls per request; they are pure arithmetic over the catalogue.
"""

from __future__ import annotations

from hybridgate.economics.catalogue import Catalogue, GpuPrice, PricingMode, load_catalogue
from hybridgate.economics.errors import EconomicsError

PER_MILLION = 1_000_000
HOURS_PER_MONTH = 730.0  # 8,760 h / 12
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600


def api_cost(
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int = 0,
    *,
    catalogue: Catalogue | None = None,
) -> float:
    """USD for one call. `cached_tokens` are the part of `prompt_tokens` read from the provider's prompt
    cache (OpenAI's usage semantics); they are billed at the cached price, or the input price if none."""
    if min(prompt_tokens, completion_tokens, cached_tokens) < 0:
        raise EconomicsError("token counts cannot be negative", param="tokens")
    price = (catalogue or load_catalogue()).model(model)
    cached = min(cached_tokens, prompt_tokens)
    cached_price = price.input if price.cached_input is None else price.cached_input
    usd = (prompt_tokens - cached) * price.input + cached * cached_price + completion_tokens * price.output
    return usd / PER_MILLION


def gpu_hourly_usd(
    gpu: GpuPrice, mode: PricingMode, *, catalogue: Catalogue, depreciation_months: int | None = None
) -> float:
    """USD per GPU-hour under a pricing mode. Owned = purchase amortised straight-line + power."""
    if mode == "on_demand" and gpu.on_demand is not None:
        return gpu.on_demand
    if mode == "reserved" and gpu.reserved is not None:
        return gpu.reserved
    if mode == "owned" and gpu.purchase_usd is not None:
        owned = catalogue.owned
        months = depreciation_months or owned.depreciation_months
        if months < 1:
            raise EconomicsError("depreciation must be at least one month", param="depreciation_months")
        power = gpu.power_kw * owned.pue * owned.usd_per_kwh
        return gpu.purchase_usd / (months * HOURS_PER_MONTH) + power
    raise EconomicsError(
        f"the catalogue has no {mode} price for this GPU; add one or pass --gpu-hourly", param="pricing"
    )


def self_hosted_cost_per_token(
    gpu_hourly_usd: float, gpus: int, throughput_tokens_per_s: float, utilisation: float
) -> float:
    """USD per token (prompt or completion) on a replica of `gpus` GPUs that sustains
    `throughput_tokens_per_s` when saturated and runs at `utilisation` of that on average."""
    if gpu_hourly_usd < 0:
        raise EconomicsError("GPU price per hour cannot be negative", param="gpu_hourly")
    if gpus < 1:
        raise EconomicsError("a replica needs at least one GPU", param="gpus_per_replica")
    if throughput_tokens_per_s <= 0:
        raise EconomicsError("throughput must be positive", param="throughput")
    if not 0 < utilisation <= 1:
        raise EconomicsError("utilisation must be in (0, 1]", param="utilisation")
    return gpu_hourly_usd * gpus / 3600 / (throughput_tokens_per_s * utilisation)


def self_hosted_request_cost(
    prompt_tokens: int,
    completion_tokens: int,
    *,
    gpu_hourly_usd: float,
    gpus: int,
    throughput_tokens_per_s: float,
    utilisation: float = 1.0,
) -> float:
    """The GPU time one request consumes, in USD: what a usage record of a self-hosted call should carry."""
    per_token = self_hosted_cost_per_token(gpu_hourly_usd, gpus, throughput_tokens_per_s, utilisation)
    return (prompt_tokens + completion_tokens) * per_token
