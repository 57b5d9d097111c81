"""The tamper-evident audit trail: hash-chained rows, signed checkpoints, a background writer."""
