"""With tracing off, stage() and attempt() are a shared no-op that never swallows an exception."""

from __future__ import annotations

import pytest

from hybridgate.observe import tracing


def test_noop_stages_nest_repeat_and_let_exceptions_through() -> None:
    assert not tracing.enabled()
    for _ in range(2):
        with tracing.stage("auth"), tracing.attempt("chat", "ep", "m", "self_hosted"):
            pass
    with pytest.raises(KeyError, match="boom"), tracing.stage("detect"):
        raise KeyError("boom")
    with pytest.raises(ZeroDivisionError), tracing.attempt("chat", "ep", "m", "self_hosted"):
        _ = 1 / 0
