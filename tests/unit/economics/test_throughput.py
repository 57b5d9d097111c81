"""Reference throughputs: exact rows, derived rows, and the memory check."""

from __future__ import annotations

import pytest

from hybridgate.economics.catalogue import load_catalogue
from hybridgate.economics.errors import EconomicsError
from hybridgate.economics.throughput import TP_EFFICIENCY, check_fits, load_throughputs, reference_throughput


def test_every_measurement_has_a_source_and_known_names() -> None:
    table, cat = load_throughputs(), load_catalogue()
    for m in table.measurements:
        assert m.model in table.models and m.gpu in cat.gpus and len(m.source) > 20


def test_exact_row_is_used_as_is() -> None:
    t = reference_throughput(load_throughputs(), load_catalogue(), "llama-3-8b", "h200", 1)
    assert (t.tokens_per_s, t.basis) == (9000, "measured")


def test_other_gpu_scales_by_relative_throughput() -> None:
    t = reference_throughput(load_throughputs(), load_catalogue(), "llama-3.1-8b", "h100", 1)
    assert t.basis == "derived" and t.tokens_per_s == pytest.approx(9000 * 1.0 / 1.43)


def test_more_gpus_scale_sublinearly() -> None:
    t = reference_throughput(load_throughputs(), load_catalogue(), "llama-3.1-8b", "h200", 2)
    assert t.tokens_per_s == pytest.approx(9000 * 2 * TP_EFFICIENCY)


def test_model_that_does_not_fit_names_the_gpu_count_flag() -> None:
    with pytest.raises(EconomicsError) as e:
        check_fits(load_throughputs(), load_catalogue(), "llama-3.1-70b", "h100", 1)
    assert e.value.param == "gpus_per_replica"
    check_fits(load_throughputs(), load_catalogue(), "llama-3.1-70b", "h100", 4)


def test_unknown_self_hosted_model() -> None:
    with pytest.raises(EconomicsError) as e:
        load_throughputs().canonical("gpt-4o")
    assert e.value.param == "self_hosted_model"
