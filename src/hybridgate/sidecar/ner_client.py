"""RemoteNer: the NER tier as seen from a worker when the model lives in the sidecar (ner_server.py).

It does I/O, unlike the other detectors, so only the composition root builds it. Every failure (sidecar
not running, connection lost, slower than the NER budget, malformed reply) raises; DetectionStage.deepen
then treats the request as sensitive. No answer never means "no names".
"""

from __future__ import annotations

import logging
import socket
import threading
import time

from hybridgate.detect.findings import Finding
from hybridgate.sidecar.wire import decode_reply, recv_frame, send_frame

log = logging.getLogger("hybridgate.ner")


class RemoteNer:
    """One persistent connection per worker; a failed exchange drops it and the next call reconnects."""

    waits_on_io = True  # DetectionStage.deepen_async runs it in a thread, off the event loop

    def __init__(self, path: str, timeout_s: float, *, name: str = "ner") -> None:
        self.name = name
        self.path = path
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()  # warm_up runs in a thread; one exchange at a time on the socket

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout_s)
        try:
            sock.connect(self.path)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        return sock

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def detect(self, text: str) -> list[Finding]:
        with self._lock:
            try:
                sock = self._sock or self._connect()
                send_frame(sock, text.encode("utf-8", "surrogatepass"))
                return decode_reply(recv_frame(sock), self.name)
            except BaseException:
                self._drop()  # a late reply must not be read as the answer to the next request
                raise

    def warm_up(self, wait_s: float = 120.0) -> None:
        """Waits for the sidecar to answer (it loads the model while the workers start). Gives up quietly:
        until it answers, requests that would need it stay inside the sensitive boundary."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                self.detect("warm up")
                return
            except Exception as e:
                if time.monotonic() >= deadline:
                    log.warning("NER sidecar at %s not answering (%s): deep scans fail closed", self.path, e)
                    return
                time.sleep(0.1)

    def close(self) -> None:
        with self._lock:
            self._drop()
