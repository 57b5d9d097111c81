"""Metrics, traces, logs, audit, usage: after the response, off the hot path."""
