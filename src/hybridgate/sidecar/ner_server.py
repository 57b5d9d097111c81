"""The NER sidecar: one process holds the spaCy model for all workers and scans text sent over a Unix socket.

A worker with the model loaded in-process is ~270 MB larger than one without; with the sidecar every
worker stays small and the model is loaded once per host. `hybridgate serve` starts it (see
`needs_sidecar`), hands its socket to the workers through `detection.ner_socket`, and stops it on exit;
it also exits when its parent dies. Scans are serialised (one model, one lock).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import logging
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from hybridgate.detect.findings import Detector
from hybridgate.settings import DetectionConfig
from hybridgate.sidecar.wire import WireError, encode_error, encode_findings, recv_frame, send_frame

PROCESS_NAME = b"hybridgate-ner"
log = logging.getLogger("hybridgate.ner")


def needs_sidecar(cfg: DetectionConfig, model_installed: bool) -> bool:
    """True when the NER tier will run and no sidecar was configured: serve then starts one."""
    return (
        cfg.detector == "full"
        and cfg.ner
        and cfg.names_policy != "off"
        and cfg.ner_sidecar
        and cfg.ner_socket is None
        and model_installed
    )


def serve(detector: Detector, path: str) -> socketserver.ThreadingUnixStreamServer:
    """A server answering scans with `detector`; the caller runs serve_forever()."""
    lock = threading.Lock()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while True:
                try:
                    text = recv_frame(self.request).decode("utf-8", "surrogatepass")
                except (WireError, OSError, UnicodeDecodeError):
                    return
                try:
                    with lock:
                        reply = encode_findings(detector.detect(text))
                except Exception as e:  # reported to the worker, which fails closed
                    reply = encode_error(e)
                try:
                    send_frame(self.request, reply)
                except OSError:
                    return

    if os.path.exists(path):
        os.unlink(path)
    server = socketserver.ThreadingUnixStreamServer(path, Handler)
    server.daemon_threads = True
    return server


def _exit_with_parent(server: socketserver.BaseServer, parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    server.shutdown()


def _name_process(name: bytes) -> None:
    """Shown by ps/top (and told apart from the workers by the benchmark); Linux only, elsewhere a no-op."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(15, name, 0, 0, 0)  # PR_SET_NAME


def run(cfg_json: str, path: str, parent: int) -> None:
    """The sidecar process: load and warm the model, then serve until stopped or orphaned."""
    from hybridgate.detect.pii import build_ner_detector

    _name_process(PROCESS_NAME)

    cfg = DetectionConfig.model_validate_json(cfg_json)
    detector = build_ner_detector(cfg)
    if detector is None:
        return
    warm = getattr(detector, "warm_up", None)
    if warm is not None:
        warm()
    gc.collect()
    gc.freeze()  # the model lives as long as the process; keep it out of the collector's walks
    server = serve(detector, path)  # bound only now: a worker that connects gets a loaded model
    threading.Thread(target=_exit_with_parent, args=(server, parent), daemon=True).start()
    with server:
        server.serve_forever()


@dataclass
class Sidecar:
    """The running sidecar, restarted if it dies (a crash must not leave every deep scan failing closed
    until the gateway restarts). Workers reconnect on their next scan: the socket path stays the same.
    A plain `python -m` child, not a multiprocessing one: it imports only what the model needs, not the
    CLI that started it (~40 MB less)."""

    argv: list[str]
    path: str
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    _stopping: threading.Event = field(default_factory=threading.Event)

    def _spawn(self) -> None:
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL)

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            assert self.process is not None
            if self.process.poll() is not None and not self._stopping.wait(1.0):
                code = self.process.returncode
                log.warning("NER sidecar exited (%s); restarting it, deep scans fail closed meanwhile", code)
                self.restarts += 1
                self._spawn()

    def start(self) -> Sidecar:
        self._spawn()
        threading.Thread(target=self._watch, name="hybridgate-ner-watch", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(Path(self.path).parent, ignore_errors=True)


def start(cfg: DetectionConfig) -> Sidecar:
    """Starts the sidecar; its socket lives in a fresh directory only this user can enter."""
    path = os.path.join(tempfile.mkdtemp(prefix="hybridgate-ner-"), "ner.sock")
    argv = [sys.executable, "-m", "hybridgate.sidecar.ner_server", "--socket", path, "--parent", str(os.getpid())]
    return Sidecar([*argv, "--config", cfg.model_dump_json()], path).start()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="hybridgate's NER sidecar (started by `hybridgate serve`)")
    ap.add_argument("--socket", required=True, help="Unix socket path to serve on")
    ap.add_argument("--parent", type=int, default=0, help="exit when this process is gone (default: the parent)")
    ap.add_argument("--config", default="{}", help="the `detection` settings, as JSON")
    a = ap.parse_args(argv)
    run(a.config, a.socket, a.parent or os.getppid())


if __name__ == "__main__":
    main()
