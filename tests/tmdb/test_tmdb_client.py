"""The polite TMDB client against real local servers (RELIABILITY G9, G11, §5.E tests 39–44).

Each test starts its own HTTP server on 127.0.0.1:0: the project's TMDB emulator, or a tiny scripted
server for the hostile cases the emulator does not produce (hangs, HTML, huge bodies, redirects).
"""

from __future__ import annotations

import email.utils
import json
import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import closed_port_url
from tmdb_emulator import start_emulator

from anivault.tmdb.client import ApiKey, TmdbHttpClient
from anivault.tmdb.port import TmdbAuthError, TmdbBadResponse, TmdbUnavailable
from anivault.tmdb.ratelimit import (
    CircuitBreaker,
    ClientState,
    PolitenessPolicy,
    parse_retry_after,
)

CATALOG = Path(__file__).parents[1] / "fixtures" / "tmdb_catalog_small.json"
V4_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl"
V4_CANARY = "eyJhbGciOiJIUzI1NiJ9.eyJDQU5BUlkiOiIxMjM0NTY3ODkwIn0.Q0FOQVJZc2lnbmF0dXJl"
QUERIES = [
    "naruto",
    "bleach",
    "one piece",
    "frieren",
    "death note",
    "akira",
    "k on",
    "haikyu",
    "gintama",
    "mob",
]


def fast_policy(**kw: Any) -> PolitenessPolicy:
    base = dict(
        rate=50.0,
        concurrency=4,
        connect_timeout=1.0,
        read_timeout=1.0,
        deadline=4.0,
        retries=2,
        backoff_base=0.05,
        backoff_max=0.2,
        breaker_cooldown=0.5,
    )
    base.update(kw)
    return PolitenessPolicy(**base)  # type: ignore[arg-type]


def run_threads(n: int, fn: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def wrap(i: int) -> None:
        try:
            fn(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return errors


# --------------------------------------------------------------------------------------------------- G9


@pytest.fixture
def emulator_process() -> Iterator[Callable[..., str]]:
    """The emulator as its own process, started exactly as the contract says (no shared GIL with us)."""
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> str:
        script = Path(__file__).parents[2] / "scripts" / "tmdb_emulator.py"
        proc = subprocess.Popen(
            [sys.executable, str(script), "--catalog", str(CATALOG), "--port", "0", *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        return proc.stdout.readline().strip()

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=5)


def server_stats(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url[:-2] + "/__stats", timeout=5) as resp:
        data: dict[str, Any] = json.loads(resp.read())
    return data


def test_rate_and_in_flight_never_above_the_limits(emulator_process: Callable[..., str]) -> None:
    """Server-side counters: ≤ rate requests in any 1-second window and ≤ 4 in flight, with 8 workers."""
    rate = 25
    url = emulator_process("--latency-ms", "30", "--rate-limit", str(rate))
    client = TmdbHttpClient(url, ApiKey("test-key"), policy=fast_policy(rate=rate))

    def worker(i: int) -> None:
        for j in range(8):
            client.search("tv", QUERIES[(i + j) % len(QUERIES)])

    t0 = time.monotonic()
    assert run_threads(8, worker) == []
    took = time.monotonic() - t0
    stats = server_stats(url)
    assert stats["total_requests"] == 64
    assert stats["max_per_second"] <= rate
    assert stats["max_in_flight"] <= 4
    assert stats["by_status"].get("429", 0) == 0
    assert took >= (64 - rate) / rate * 0.9  # it really was rate-limited, not just lucky


def test_429_pauses_every_worker_until_retry_after() -> None:
    """The client is set faster than the server allows; after a 429 nobody sends before Retry-After."""
    with start_emulator(CATALOG, rate_limit=3) as emu:
        # the breaker is kept out of this test (it would open under a 429 storm, as it should)
        policy = fast_policy(rate=100, deadline=8, breaker_min_calls=1000)
        client = TmdbHttpClient(emu.base_url, ApiKey("test-key"), policy=policy)
        assert run_threads(4, lambda i: [client.search("tv", QUERIES[i + k]) for k in range(2)]) == []
        log = sorted(emu.state.log)
    first_429 = next(t for t, _, status in log if status == "429")
    # requests already on the wire when the 429 came back may land a moment later; none after that
    during = [t for t, _, _ in log if first_429 + 0.05 < t < first_429 + 0.95]
    assert during == []
    assert sum(1 for _, _, s in log if s == "200") == 8


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("3", 3.0),
        ("0.5", 0.5),
        (None, 2.0),
        ("", 2.0),
        ("-5", 2.0),
        ("nan", 2.0),
        ("1m0s", 2.0),
        ("99999999999", 60.001),
        ("inf", 60.001),
    ],
)
def test_retry_after_parsing_is_lenient_and_capped(header: str | None, expected: float) -> None:
    assert parse_retry_after(header, now_wall=1000.0, default=2.0, cap=60.0) == pytest.approx(expected)


def test_retry_after_http_dates() -> None:
    now = 1_700_000_000.0
    ahead = email.utils.formatdate(now + 3, usegmt=True)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(ahead, now_wall=now, default=2.0, cap=60.0) == pytest.approx(3.0, abs=1.0)
    assert parse_retry_after(past, now_wall=now, default=2.0, cap=60.0) == 0.0


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def monotonic(self) -> float:
        return self.t

    def wall(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def test_breaker_state_machine_with_an_injected_clock() -> None:
    clock = FakeClock()
    b = CircuitBreaker(PolitenessPolicy(breaker_min_calls=8, breaker_ratio=0.5, breaker_cooldown=5), clock)
    b.record(False, throttled=True)
    assert b.state == ClientState.THROTTLE
    for ok in (True, False, True, False, True, False, False):
        b.record(ok)
    assert b.state == ClientState.CACHE_ONLY and not b.admit()
    clock.t += 5
    assert b.state == ClientState.SLEEP_THEN_RESUME
    assert b.admit() and not b.admit()  # exactly one probe
    b.record(False)
    assert b.state == ClientState.CACHE_ONLY  # the probe failed: wait again
    clock.t += 5
    assert b.admit()
    b.record(True)
    assert b.state == ClientState.THROTTLE  # back, gently
    clock.t += 60
    assert b.state == ClientState.NORMAL
    # 4xx answers (401/404) are successes for the breaker: they never open it
    for _ in range(30):
        b.record(True)
    assert b.state == ClientState.NORMAL


def test_breaker_opens_on_a_5xx_storm_and_recovers_with_a_probe() -> None:
    with start_emulator(CATALOG, fail_rate=1.0, seed=1) as emu:
        policy = fast_policy(retries=1, breaker_min_calls=4, breaker_cooldown=0.5)
        clock = FakeClock()  # the cooldown passes when the test says so, not after a real wait
        client = TmdbHttpClient(emu.base_url, ApiKey("test-key"), policy=policy, clock=clock)
        for q in QUERIES[:4]:
            with pytest.raises(TmdbUnavailable):
                client.search("tv", q)
        assert client.session.breaker.state == ClientState.CACHE_ONLY
        sent = emu.stats()["total_requests"]
        with pytest.raises(TmdbUnavailable, match="cache"):
            client.search("tv", "naruto")
        assert emu.stats()["total_requests"] == sent  # cache-only: nothing went out
        emu.state.fail_rate = 0.0  # TMDB is healthy again
        clock.sleep(0.6)  # the cooldown is over
        assert client.search("tv", "naruto")["results"]
        assert client.session.breaker.state == ClientState.THROTTLE
        assert client.search("tv", "bleach")["results"]


# --------------------------------------------------------------------------------------------------- §5.E faults


def test_wrong_key_is_one_request_and_a_clear_error() -> None:
    with start_emulator(CATALOG) as emu:
        client = TmdbHttpClient(emu.base_url, ApiKey("wrong-key-123456"), policy=fast_policy())
        with pytest.raises(TmdbAuthError) as info:
            client.search("tv", "naruto")
        assert emu.stats()["total_requests"] == 1  # never retried
        assert "check your key" in (info.value.hint or "")
        assert client.session.breaker.state == ClientState.NORMAL


def test_emulator_down_is_unavailable_not_a_traceback() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    client = TmdbHttpClient(f"http://127.0.0.1:{port}/3", ApiKey("test-key"), policy=fast_policy(retries=1))
    t0 = time.monotonic()
    with pytest.raises(TmdbUnavailable, match="connection refused"):
        client.search("tv", "naruto")
    assert time.monotonic() - t0 < 2


class Scripted(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    behaviour: Callable[[BaseHTTPRequestHandler], None]
    seen: list[dict[str, str]]

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        type(self).behaviour(self)


def body(handler: BaseHTTPRequestHandler, status: int, data: bytes, ctype: str = "application/json") -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def scripted_server(behaviour: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[tuple[str, list[Any]]]:
    seen: list[dict[str, str]] = []
    handler = type("H", (Scripted,), {"behaviour": staticmethod(behaviour), "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/3", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[BaseHTTPRequestHandler], None]], tuple[str, list[Any]]]]:
    gens: list[Iterator[tuple[str, list[Any]]]] = []

    def start(behaviour: Callable[[BaseHTTPRequestHandler], None]) -> tuple[str, list[Any]]:
        g = scripted_server(behaviour)
        gens.append(g)
        return next(g)

    yield start
    for g in gens:
        for _ in g:
            pass


def test_a_hanging_server_ends_at_the_deadline(serve: Any) -> None:
    stop = threading.Event()
    url, _ = serve(lambda h: stop.wait(5))
    client = TmdbHttpClient(url, ApiKey("test-key"), policy=fast_policy(read_timeout=0.3, deadline=1.0))
    t0 = time.monotonic()
    with pytest.raises(TmdbUnavailable):
        client.search("tv", "naruto")
    stop.set()
    assert time.monotonic() - t0 < 2.5


def test_a_trickling_body_ends_at_the_deadline(serve: Any) -> None:
    def trickle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        try:
            for _ in range(40):
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    url, _ = serve(trickle)
    client = TmdbHttpClient(
        url, ApiKey("test-key"), policy=fast_policy(read_timeout=1.0, deadline=1.0, retries=0)
    )
    t0 = time.monotonic()
    with pytest.raises(TmdbUnavailable):
        client.search("tv", "naruto")
    assert time.monotonic() - t0 < 3


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b"<html><body>Bad gateway</body></html>", b"", b"[1, 2, 3]", b"\xff\xfe garbage"],
)
def test_malformed_bodies_are_rejected_not_cached(serve: Any, payload: bytes) -> None:
    url, _ = serve(lambda h: body(h, 200, payload, "text/html"))
    client = TmdbHttpClient(url, ApiKey("test-key"), policy=fast_policy())
    with pytest.raises(TmdbBadResponse):
        client.search("tv", "naruto")


def test_huge_bodies_are_capped(serve: Any) -> None:
    big = json.dumps({"results": [{"id": i, "name": "x" * 100} for i in range(20000)]}).encode()
    url, _ = serve(lambda h: body(h, 200, big))
    client = TmdbHttpClient(url, ApiKey("test-key"), policy=fast_policy(max_body_bytes=100_000))
    with pytest.raises(TmdbBadResponse, match="too large"):
        client.search("tv", "naruto")

    def chunked(h: BaseHTTPRequestHandler) -> None:  # no Content-Length: the cap applies while streaming
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        try:
            for _ in range(100):
                chunk = b"[" + b"1," * 5000 + b"1]"
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            h.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    url2, _ = serve(chunked)
    client2 = TmdbHttpClient(url2, ApiKey("test-key"), policy=fast_policy(max_body_bytes=100_000))
    with pytest.raises(TmdbBadResponse, match="too large"):
        client2.search("tv", "naruto")


def test_cross_host_redirect_drops_the_authorization_header(serve: Any) -> None:
    other_url, other_seen = serve(lambda h: body(h, 200, b'{"results": []}'))
    # 127.0.0.1 and localhost are different hosts to requests
    target = other_url.replace("127.0.0.1", "localhost")

    def redirect(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", target + h.path[2:])
        h.send_header("Content-Length", "0")
        h.end_headers()

    url, seen = serve(redirect)
    client = TmdbHttpClient(url, ApiKey(V4_TOKEN), policy=fast_policy())
    client.search("tv", "naruto")
    assert seen[0]["authorization"] == f"Bearer {V4_TOKEN}"
    assert "api_key" not in seen[0]["path"]  # a v4 token never goes in the URL
    assert "authorization" not in other_seen[0]


@pytest.mark.parametrize("canary", [V4_CANARY, "TMDBCANARY1234567890abcdef"], ids=["v4-bearer", "v3-query"])
def test_the_key_never_appears_in_logs_errors_or_reprs(
    caplog: pytest.LogCaptureFixture, serve: Any, canary: str
) -> None:
    """A v4 token travels only in the Authorization header; a v3 key (TMDB accepts it only as api_key=) is in
    the query string on the wire, but never in a log line (urllib3 logs URLs at DEBUG), an error or a repr."""
    caplog.set_level(logging.DEBUG)
    with start_emulator(CATALOG, api_key=canary) as emu:
        client = TmdbHttpClient(emu.base_url, ApiKey(canary), policy=fast_policy())
        client.search("tv", "naruto")
        client.details("tv", 1429)
        texts = [repr(client), repr(client.session), repr(ApiKey(canary)), str(ApiKey(canary))]
        bad = TmdbHttpClient(emu.base_url, ApiKey(canary + "x"), policy=fast_policy())
        with pytest.raises(TmdbAuthError) as info:
            bad.search("tv", "naruto")
        texts += [str(info.value), repr(info.value), str(info.value.hint)]
    url, seen = serve(lambda h: body(h, 500, b"{}"))
    down = TmdbHttpClient(url, ApiKey(canary), policy=fast_policy(retries=1))
    with pytest.raises(TmdbUnavailable) as info2:
        down.search("tv", "naruto")
    gone = TmdbHttpClient(closed_port_url(), ApiKey(canary), policy=fast_policy(retries=0))
    with pytest.raises(TmdbUnavailable) as info3:
        gone.search("tv", "naruto")
    texts += [str(info2.value), str(info3.value), repr(info3.value), caplog.text]
    assert "GET /3/search/tv" in caplog.text  # urllib3 did log the request lines
    if canary == V4_CANARY:
        assert all("api_key" not in p["path"] and canary not in p["path"] for p in seen)
    for text in texts:
        assert canary not in text


def test_a_gzip_bomb_is_capped_after_decompression(serve: Any) -> None:
    import gzip

    bomb = gzip.compress(b"[" + b" " * 20_000_000 + b"]", compresslevel=6)  # 20 MB of JSON in ~20 KB

    def send(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(bomb)))
        h.end_headers()
        try:
            h.wfile.write(bomb)
        except OSError:
            pass

    url, _ = serve(send)
    client = TmdbHttpClient(url, ApiKey("test-key"), policy=fast_policy(max_body_bytes=1_000_000))
    with pytest.raises(TmdbBadResponse, match="too large"):
        client.search("tv", "naruto")


@pytest.mark.parametrize("depth", [900, 100_000])
def test_deeply_nested_json_is_a_bad_answer_not_a_crash(serve: Any, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    data = f'{{"page": 1, "results": [{{"id": 1, "name": "x", "deep": {nested}}}]}}'.encode()
    url, _ = serve(lambda h: body(h, 200, data))
    client = TmdbHttpClient(url, ApiKey("test-key"), policy=fast_policy())
    with pytest.raises(TmdbBadResponse, match="nested too deeply"):
        client.search("tv", "naruto")
