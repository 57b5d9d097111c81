"""The one error economics raises on purpose: bad input, named by the parameter (= CLI flag) at fault."""

from __future__ import annotations

from hybridgate.errors import BadRequest


class EconomicsError(BadRequest):
    """`param` is the input's name with underscores (`gpu`, `requests_per_month`); the CLI turns it into
    the flag (`--gpu`, `--requests-per-month`)."""

    code = "economics_input"

    def flag(self) -> str:
        return "--" + (self.param or "input").replace("_", "-")
