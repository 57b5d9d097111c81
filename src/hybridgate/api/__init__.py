"""The HTTP edge: routes, validation, SSE framing, error shapes."""
