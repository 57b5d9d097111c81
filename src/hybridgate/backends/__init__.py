"""Upstream backends: one small interface, provider quirks live only inside each implementation."""
