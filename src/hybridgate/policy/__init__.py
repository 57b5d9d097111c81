"""decide(signals, principal, policy) -> Decision. Pure: no I/O, no clock."""
