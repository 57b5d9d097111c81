"""One exception root for everything the gateway raises on purpose.

    GatewayError                       500 api_error
    ├── BadRequest                     400 invalid_request_error
    │   └── PayloadTooLarge            413 invalid_request_error
    ├── AuthenticationError            401 authentication_error
    ├── PermissionDenied               403 permission_error
    │   └── PolicyDenied               403 permission_error   (a policy rule or the boundary said no)
    ├── NotFound                       404 not_found_error
    ├── MethodNotAllowed               405 invalid_request_error
    ├── RateLimited                    429 rate_limit_error   (Retry-After)
    │   └── BudgetExceeded             429 budget_exceeded
    ├── UpstreamError                  502 upstream_error     (an upstream answered badly)
    │   └── UpstreamStatusError        the upstream's own 4xx/5xx, passed on
    ├── NoAllowedEndpoint              503 service_unavailable (Retry-After; never egress instead)
    ├── UpstreamTimeout                504 timeout_error
    └── ConfigError                    raised at load time, never while serving

Foreign exceptions (aiohttp, pydantic, orjson) are translated where they are caught, at the edge.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    status: int = 500
    type: str = "api_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.retry_after = retry_after
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The OpenAI error shape."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def anthropic_body(self) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": _ANTHROPIC_TYPES.get(self.status, "api_error"), "message": self.message},
        }

    def response_headers(self) -> dict[str, str]:
        h = dict(self.headers)
        if self.retry_after is not None:
            h["Retry-After"] = str(max(1, round(self.retry_after)))
        return h


_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "overloaded_error",
    504: "api_error",
}


class BadRequest(GatewayError):
    status = 400
    type = "invalid_request_error"


class PayloadTooLarge(BadRequest):
    status = 413
    code = "request_too_large"


class AuthenticationError(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"


class PolicyDenied(PermissionDenied):
    code = "policy_denied"


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class BudgetExceeded(RateLimited):
    type = "budget_exceeded"
    code = "budget_exceeded"


class UpstreamError(GatewayError):
    status = 502
    type = "upstream_error"


class UpstreamStatusError(UpstreamError):
    """The upstream answered with an error status; `upstream_status` keeps it for retry decisions."""

    def __init__(self, message: str, *, upstream_status: int, body: bytes = b"", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.upstream_status = upstream_status
        self.upstream_body = body
        # Client errors from the upstream are the client's problem: pass the status through.
        self.status = upstream_status if 400 <= upstream_status < 500 else 502


class NoAllowedEndpoint(GatewayError):
    status = 503
    type = "service_unavailable"
    code = "no_allowed_endpoint"


class UpstreamTimeout(GatewayError):
    status = 504
    type = "timeout_error"
    code = "upstream_timeout"


class ConfigError(GatewayError):
    code = "config_error"
