"""Access control and money: rate limits, budgets, usage recording and cost.

config      typed config for limits, budgets, the admin key and self-hosted cost
durations   "30d" / "12h" -> seconds
tokens      token estimates before the call and for streams that report no usage
cost        the per-request cost function (catalogue prices; GPU cost model for self-hosted)
counters    shared counters: the interface, the in-process implementation (redis_counters: Redis)
limits      pure decisions: which checks a request needs, and the x-ratelimit-* headers
admission   reserve before dispatch, settle after (the pipeline's `admission` hook)
usage       the batching usage writer (an Observer)
spend       seeds the budget counters from recorded usage at start-up (a restart forgets no spend)
runtime     builds and owns the store, counters, authenticator, admission and writer
"""
