"""hybridgate: a hybrid LLM gateway with an egress boundary."""

__version__ = "0.1.0"
