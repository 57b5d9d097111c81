"""`hybridgate bench` finds the harness in a checkout and passes the options through."""

from __future__ import annotations

from pathlib import Path

import pytest

from hybridgate.commands.bench import HARNESS, find_harness, harness_argv


def test_finds_the_harness_in_a_parent_directory(tmp_path: Path) -> None:
    (tmp_path / HARNESS).parent.mkdir(parents=True)
    (tmp_path / HARNESS).write_text("")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_harness(deep, Path("/nonexistent/x.py")) == tmp_path / HARNESS


def test_no_checkout_means_no_harness(tmp_path: Path) -> None:
    assert find_harness(tmp_path, tmp_path / "pkg" / "bench.py") is None


@pytest.mark.parametrize(
    ("quick", "seconds", "targets", "soak", "tail"),
    [
        (True, 10.0, None, 0, ["--quick"]),
        (False, 7.0, None, 0, ["--seconds", "7"]),
        (True, 10.0, "direct,hg-min", 0, ["--quick", "--targets", "direct,hg-min"]),
        (False, 10.0, None, 600, ["--seconds", "10", "--soak", "600"]),
    ],
)
def test_argv(quick: bool, seconds: float, targets: str | None, soak: float, tail: list[str]) -> None:
    argv = harness_argv(Path("h.py"), quick=quick, seconds=seconds, targets=targets, soak=soak, python="py")
    assert argv == ["py", "h.py", *tail]
