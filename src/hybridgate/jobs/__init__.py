"""The async and batch lane: a durable queue, a job store, a capacity-aware scheduler and workers.

Kept import-free so that settings.py can import `jobs.config` without pulling in the pipeline.
"""
