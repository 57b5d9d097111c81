"""Catalogue lookup and per-request cost arithmetic against hand-computed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridgate.economics.catalogue import load_catalogue
from hybridgate.economics.errors import EconomicsError
from hybridgate.economics.pricing import (
    api_cost,
    gpu_hourly_usd,
    self_hosted_cost_per_token,
    self_hosted_request_cost,
)
from hybridgate.errors import ConfigError, GatewayError


@pytest.mark.parametrize(
    ("model", "prompt", "completion", "cached", "expected"),
    [
        # gpt-4o: 2.50 in, 10.00 out, 1.25 cached per million
        ("gpt-4o", 1000, 500, 200, (800 * 2.50 + 200 * 1.25 + 500 * 10.00) / 1e6),
        ("gpt-4o-mini", 1_000_000, 0, 0, 0.15),
        ("gpt-4o-2024-08-06", 0, 1_000_000, 0, 10.00),  # dated snapshot
        ("openai/gpt-4o", 1_000_000, 0, 1_000_000, 1.25),  # provider prefix, all cached
        ("claude-sonnet-4", 2000, 1000, 0, (2000 * 3.00 + 1000 * 15.00) / 1e6),  # alias
        ("llama-3.1-8b-instant", 1_000_000, 1_000_000, 500_000, 0.05 + 0.08),  # no cached price: input price
        ("gpt-4o", 100, 10, 5000, (100 * 1.25 + 10 * 10.00) / 1e6),  # cached capped at prompt
    ],
)
def test_api_cost(model: str, prompt: int, completion: int, cached: int, expected: float) -> None:
    assert api_cost(model, prompt, completion, cached) == pytest.approx(expected)


def test_unknown_model_names_the_model_flag() -> None:
    with pytest.raises(EconomicsError) as e:
        api_cost("gpt-99", 1, 1)
    assert e.value.param == "model" and e.value.flag() == "--model"
    assert isinstance(e.value, GatewayError) and "gpt-99" in e.value.message


def test_negative_tokens_rejected() -> None:
    with pytest.raises(EconomicsError):
        api_cost("gpt-4o", -1, 1)


def test_every_entry_is_dated_and_sourced() -> None:
    cat = load_catalogue()
    assert cat.status == "list_prices_to_check"
    assert {"h100", "a100-80g", "l40s", "a10g", "l4", "rtx4090"} <= set(cat.gpus)
    providers = {m.provider for m in cat.models.values()}
    assert {"openai", "anthropic", "google", "groq"} <= providers
    for entry in [*cat.models.values(), *cat.gpus.values()]:
        assert entry.source and entry.as_of.year >= 2025


def test_override_replaces_and_adds(tmp_path: Path) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text(
        "models:\n"
        "  gpt-4o: {provider: openai, input: 1.0, output: 2.0, as_of: 2026-11-01, source: contract}\n"
        "  my-model: {provider: openai, input: 3.0, output: 4.0, as_of: 2026-11-01, source: contract}\n"
        "gpus:\n"
        "  h100: {memory_gb: 80, on_demand: 1.5, as_of: 2026-11-01, source: quote}\n"
    )
    cat = load_catalogue(f)
    assert cat.model("gpt-4o").input == 1.0 and cat.model("gpt-4o").cached_input is None
    assert cat.model("my-model").output == 4.0
    assert cat.model("claude-haiku-4-5").input == 1.0  # untouched entries stay
    assert cat.gpu("h100").on_demand == 1.5 and cat.gpu("h100").reserved is None
    with pytest.raises(EconomicsError) as e:
        gpu_hourly_usd(cat.gpu("h100"), "reserved", catalogue=cat)
    assert e.value.param == "pricing"


def test_override_with_unknown_key_is_rejected(tmp_path: Path) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text("models:\n  x: {provider: a, input: 1, output: 1, as_of: 2026-01-01, source: s, colour: red}\n")
    with pytest.raises(ConfigError, match="colour"):
        load_catalogue(f)


def test_gpu_hourly_by_mode() -> None:
    cat = load_catalogue()
    h100 = cat.gpu("h100")
    assert gpu_hourly_usd(h100, "on_demand", catalogue=cat) == 2.99
    assert gpu_hourly_usd(h100, "reserved", catalogue=cat) == 2.09
    # owned: 35,000 over 36 months of 730 h, plus 0.70 kW x PUE 1.4 x $0.15/kWh
    expected = 35_000 / (36 * 730) + 0.70 * 1.4 * 0.15
    assert gpu_hourly_usd(h100, "owned", catalogue=cat) == pytest.approx(expected)
    assert gpu_hourly_usd(h100, "owned", catalogue=cat, depreciation_months=60) == pytest.approx(
        35_000 / (60 * 730) + 0.70 * 1.4 * 0.15
    )


def test_self_hosted_cost_per_token() -> None:
    # $2/h for 1 GPU at 1,000 tok/s, half used: 2 / 3600 / 500 per token
    assert self_hosted_cost_per_token(2.0, 1, 1000, 0.5) == pytest.approx(2 / 3600 / 500)
    assert self_hosted_request_cost(
        300, 200, gpu_hourly_usd=3.0, gpus=4, throughput_tokens_per_s=6000
    ) == pytest.approx(500 * 12 / 3600 / 6000)


@pytest.mark.parametrize(
    ("args", "param"),
    [
        ((1.0, 0, 10, 0.5), "gpus_per_replica"),
        ((1.0, 1, 0, 0.5), "throughput"),
        ((1.0, 1, 10, 0), "utilisation"),
        ((1.0, 1, 10, 1.5), "utilisation"),
        ((-1.0, 1, 10, 0.5), "gpu_hourly"),
    ],
)
def test_self_hosted_cost_rejects_bad_input(args: tuple[float, int, float, float], param: str) -> None:
    with pytest.raises(EconomicsError) as e:
        self_hosted_cost_per_token(*args)
    assert e.value.param == param
