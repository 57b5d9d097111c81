"""The ~1 KB, PII-free chat request every benchmark target gets (bench/overhead/run.py `bodies`), and the
PII equivalence check scans (bench/pii/equivalence.py)."""

SYSTEM = "You are a careful assistant for an engineering team. Answer concisely and cite the section."
USER = (
    "Summarise the following design note in three bullet points and suggest one follow-up question. "
    "The service accepts requests over HTTP, validates them, decides where they may be processed, "
    "selects a healthy backend by load, forwards the request, streams the answer back, and records "
    "usage for cost reporting. Operators configure tiers of backends with trust labels, and rules "
    "that map request signals to tiers. The team wants to know whether the design handles overload "
    "gracefully, how it behaves when a backend is slow, and what the cost of the decision step is "
    "compared to the network round trip. They also ask how the configuration is validated at start "
    "and whether unknown keys are rejected. Keep the answer short and practical, please. "
)

# Each request's number is written over SERIAL (post.lua, loadgen.numbered), so the user message is new on
# every request, as in real traffic, while the system prompt repeats: a gateway that caches per-text work
# (hybridgate's PII tier does) gets the hit a real system prompt gets and no more.
# Letters, not digits: a 9-digit number reads as a possible account number to the PII tier.
SERIAL = "aaaaaa"
# At the end, in brackets: the prompt's complexity score sits just under hg-full's frontier threshold, and a
# serial elsewhere tips it over (measured: serials 1..40,000 here keep every request on the self-hosted tier).
NUMBERED_USER = f"{USER.rstrip()} ({SERIAL})"
