"""Summaries of py-spy's collapsed stacks ("fn (file:line);fn (file:line) count" per line), shared by the
profiling scripts of bench/overhead and bench/observe."""

from __future__ import annotations

import collections
import re

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def _key(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m["file"]
    for marker in ("site-packages/", "src/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m['fn']} ({path})"


def summarise(raw: str, top: int, markers: tuple[str, ...] = (), label: str = "") -> str:
    """Inclusive and self time per function; with `markers`, also the share of samples whose stack passes
    through a frame containing one of them (`label` names that share)."""
    incl: collections.Counter[str] = collections.Counter()
    self_: collections.Counter[str] = collections.Counter()
    total = marked = 0
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        frames = [_key(f) for f in stack.split(";")]
        total += count
        if markers and any(m in f for f in frames for m in markers):
            marked += count
        for f in set(frames):
            incl[f] += count
        self_[frames[-1]] += count
    head = f"{total} samples" + (f"; under {label}: {marked / max(total, 1) * 100:.1f}%" if markers else "")
    out = [head, "", "inclusive %  function"]
    out += [f"{c / total * 100:10.1f}  {f}" for f, c in incl.most_common(top)]
    out += ["", "self %       function"]
    out += [f"{c / total * 100:10.1f}  {f}" for f, c in self_.most_common(top)]
    return "\n".join(out)
