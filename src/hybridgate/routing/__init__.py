"""Which endpoint, in which order: select() over an immutable health/load snapshot."""
