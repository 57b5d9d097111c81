"""Signals about a request: sensitivity findings, complexity, workload hints. Pure, no I/O."""
