"""The systems under test, each one worker pinned to the same CPU, all behind the same fake upstream."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from procs import Proc, free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PY = str(REPO / ".venv" / "bin" / "python")
HG = str(REPO / ".venv" / "bin" / "hybridgate")
LITELLM_VENV = REPO / "bench" / ".venv-litellm"
LITELLM_PIN = "litellm[proxy]==1.108.7"
MASTER_KEY = "sk-bench-master"

LOAD_CPUS = "0"  # wrk, the open-loop client, this harness and the proxies' upstream
SUT_CPUS = "1"  # the one worker under test (and, for `direct`, the fake itself)
CHAT = "/v1/chat/completions"

ALL = ("direct", "bare", "hg-min", "hg-full-noner", "hg-full", "litellm")
CONFIGS = {
    "hg-min": "hg-minimal.yaml",
    "hg-full": "hg-full.yaml",
    "hg-full-noner": "hg-full-noner.yaml",
    "hg-full-inproc": "hg-full-inproc.yaml",  # not in ALL: the NER model in the worker, for comparison
}


@dataclass
class Target:
    name: str
    proc: Proc
    note: str
    auth: str = MASTER_KEY

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.proc.port}{CHAT}"


def fake(port: int, cpus: str, logs: Path, gap_ms: float) -> Proc:
    argv = [PY, str(HERE / "fake_upstream.py"), "--port", str(port), "--gap-ms", str(gap_ms)]
    return Proc(f"fake:{port}", argv, port, cpus, log=logs / f"fake-{port}.log")


def ensure_litellm() -> str:
    exe = LITELLM_VENV / "bin" / "litellm"
    if not exe.exists():
        import subprocess

        print(f"installing {LITELLM_PIN} into {LITELLM_VENV} (once)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "-q", LITELLM_PIN], check=True)
    return str(exe)


def build(name: str, upstream: int, direct_port: int, logs: Path, data_dir: Path) -> Target:
    up = f"http://127.0.0.1:{upstream}"
    port = free_port()
    log = logs / f"{name}.log"
    if name == "direct":
        return Target(name, Proc(name, [], direct_port, SUT_CPUS), "wrk -> fake upstream (the fake on the SUT CPU)")
    if name == "bare":
        argv = [PY, str(HERE / "bare_proxy.py"), "--port", str(port), "--upstream", up]
        return Target(name, Proc(name, argv, port, SUT_CPUS, log=log), "30-line aiohttp pass-through")
    if name in CONFIGS:
        cfg = HERE / "configs" / CONFIGS[name]
        argv = [HG, "serve", "--config", str(cfg), "--port", str(port), "--workers", "1"]
        env = {"BENCH_UPSTREAM": up, "HYBRIDGATE_DATA_DIR": str(data_dir / name)}
        key = create_key(cfg, env) if name != "hg-min" else MASTER_KEY
        note = f"hybridgate, {cfg.name}" + (", API key required" if key != MASTER_KEY else ", open (no keys)")
        return Target(name, Proc(name, argv, port, SUT_CPUS, env, log), note, key)
    if name == "litellm":
        argv = [ensure_litellm(), "--config", str(HERE / "configs" / "litellm.yaml")]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
        env = {
            "LITELLM_MASTER_KEY": MASTER_KEY,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "BENCH_UPSTREAM_V1": up + "/v1",
            "LITELLM_LOG": "ERROR",
            "DISABLE_SCHEMA_UPDATE": "True",
        }
        return Target(name, Proc(name, argv, port, SUT_CPUS, env, log), f"{LITELLM_PIN}, no database")
    raise ValueError(f"unknown target {name!r}; choose from {ALL}")


def create_key(cfg: Path, env: dict[str, str]) -> str:
    """A real key in the target's own store, so that auth runs on every request (falls back to open)."""
    import subprocess

    argv = [HG, "keys", "create", "--team", "bench", "--name", "bench", "--config", str(cfg)]
    try:
        out = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, check=True, timeout=60)
    except (subprocess.CalledProcessError, FileNotFoundError, subprocess.TimeoutExpired):
        return MASTER_KEY
    return out.stdout.strip().splitlines()[-1]


def active_components(config: Path, upstream: int, data_dir: Path) -> dict[str, str]:
    """What the pipeline actually runs with (class names of each pluggable stage), built against the
    target's own data dir so that its keys count. Observers wired by build_app are not listed."""
    os.environ.setdefault("BENCH_UPSTREAM", f"http://127.0.0.1:{upstream}")
    os.environ["HYBRIDGATE_DATA_DIR"] = str(data_dir)
    sys.path.insert(0, str(REPO / "src"))
    from hybridgate.app import Overrides, build_pipeline
    from hybridgate.settings import load_settings

    notes: list[str] = []
    settings = load_settings(config)
    from hybridgate.app import keys_configured

    p = build_pipeline(settings, Overrides(), notes)
    obs = getattr(settings, "observability", None)
    from hybridgate.detect.pii.ner import ner_available
    from hybridgate.sidecar.ner_server import needs_sidecar

    ner = type(getattr(p.detection, "ner", None)).__name__
    if needs_sidecar(settings.detection, ner_available()):  # what `serve` does; build_pipeline alone does not
        ner = f"RemoteNer -> {ner} in the sidecar process started by serve"
    return {
        "auth": "API keys required" if keys_configured(settings) else type(p.auth).__name__,
        "detector": type(p.detection.detector).__name__,
        "ner": ner,
        "complexity": type(p.detection.scorer).__name__ if p.detection.scorer else "off",
        "observers": ", ".join(type(o).__name__ for o in p.observers) or "none",
        "observability": obs.model_dump_json(include={"metrics", "logs", "audit"}) if obs else "-",
        "notes": "; ".join(notes) or "-",
    }
