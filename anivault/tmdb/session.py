"""The wire to TMDB: a ``requests.Session`` that is polite (rate, concurrency, Retry-After, circuit
breaker), bounded (size, time, nesting) and discreet (the key is never in a URL we log or an error we
raise). Every request AniVault sends to TMDB goes through :class:`PoliteSession`."""

from __future__ import annotations

import json
import logging
import random
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
import requests.adapters
import urllib3
from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate

from anivault.config import Settings
from anivault.errors import TmdbError
from anivault.redact import redact, register_secret
from anivault.tmdb.port import TmdbAuthError, TmdbBadResponse, TmdbNotFound, TmdbUnavailable
from anivault.tmdb.ratelimit import (
    CircuitBreaker,
    Clock,
    PauseGate,
    PolitenessPolicy,
    SystemClock,
    backoff_delay,
    parse_retry_after,
)

log = logging.getLogger(__name__)


class _RedactRecords(logging.Filter):
    """Masks keys in records of the loggers that print URLs (urllib3 logs every request line at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is not ours to fix; let logging report it
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_redaction_installed = False


def _install_log_redaction() -> None:
    global _redaction_installed
    if _redaction_installed:
        return
    _redaction_installed = True
    for name in ("urllib3.connectionpool", "urllib3.util.retry", "requests", "tmdbv3api.tmdb"):
        logging.getLogger(name).addFilter(_RedactRecords())


KEY_ENV = "ANIVAULT_TMDB_KEY"


# --------------------------------------------------------------------------------------------------- errors


class ApiKey:
    """The key, kept out of every repr and str so a traceback or a log line cannot show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)
        _install_log_redaction()

    def reveal(self) -> str:
        return self._value

    @property
    def bearer(self) -> bool:
        """A v4 read-access token (JWT) goes in the Authorization header; a v3 key cannot."""
        v = self._value
        return v.count(".") == 2 and v.startswith("eyJ")

    def __repr__(self) -> str:
        return "ApiKey(***)"

    __str__ = __repr__


def resolve_api_key(settings: Settings) -> ApiKey:
    """The TMDB key: ``ANIVAULT_TMDB_KEY``, else the encrypted key store (a clear error when neither has one)."""
    from anivault import secrets_store

    return ApiKey(secrets_store.resolve_api_key(settings))


# --------------------------------------------------------------------------------------------------- transport


class _Permit:
    """Semaphore + shared pause gate + token bucket: what every attempt must pass before it is sent."""

    def __init__(self, policy: PolitenessPolicy, clock: Clock, cancel: threading.Event) -> None:
        self.policy = policy
        self.clock = clock
        self.cancel = cancel
        self.gate = PauseGate(clock)
        self.semaphore = threading.BoundedSemaphore(max(1, policy.concurrency))
        window = 1000 + policy.window_margin_ms
        self.full = Limiter(
            InMemoryBucket([Rate(max(1, int(policy.rate)), Duration.SECOND * window // 1000)])
        )
        slow = max(1, int(policy.rate * policy.throttle_factor))
        self.slow = Limiter(InMemoryBucket([Rate(slow, Duration.SECOND * window // 1000)]))

    def _check(self, deadline: float) -> None:
        if self.cancel.is_set():
            raise TmdbUnavailable("TMDB lookups were interrupted")
        if self.clock.monotonic() >= deadline:
            raise TmdbUnavailable("TMDB did not answer in time", hint="the next run retries")

    def _take(self, limiter: Limiter, deadline: float) -> None:
        while not limiter.try_acquire("tmdb", blocking=False):
            self._check(deadline)
            self.clock.sleep(0.005)

    @contextmanager
    def hold(self, deadline: float, throttled: bool) -> Iterator[None]:
        while not self.semaphore.acquire(timeout=0.05):
            self._check(deadline)
        try:
            while True:
                wait = self.gate.remaining()
                if wait > 0:
                    if self.clock.monotonic() + wait > deadline:
                        raise TmdbUnavailable("TMDB asked us to wait longer than this lookup may take")
                    self._check(deadline)
                    self.clock.sleep(min(wait, 0.05))
                    continue
                self._take(self.full, deadline)
                if throttled:
                    self._take(self.slow, deadline)
                # A 429 may have closed the gate while we waited for a token: the token is spent, but
                # nobody sends inside the pause.
                if self.gate.remaining() <= 0:
                    break
            yield
        finally:
            self.semaphore.release()


class PoliteSession(requests.Session):
    """A ``requests.Session`` whose every request is rate-limited, gated, retried and capped.

    tmdbv3api calls ``session.request(method, url, ...)``; so does our own code. Errors come out as
    :class:`TmdbError` subclasses with the key-free URL path only.
    """

    def __init__(
        self,
        api_key: ApiKey,
        policy: PolitenessPolicy | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__()
        self.trust_env = False  # no ~/.netrc or proxy env: the key goes to TMDB and nowhere else
        self.max_redirects = 3
        self._key = api_key
        self.policy = policy or PolitenessPolicy()
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.cancel = threading.Event()
        self.permit = _Permit(self.policy, self.clock, self.cancel)
        self.breaker = CircuitBreaker(self.policy, self.clock)
        self._count_lock = threading.Lock()
        self.attempts = 0  # HTTP requests actually sent
        self.first_sent: float | None = None  # monotonic time of the first and the latest request
        self.last_done: float | None = None
        self.statuses: dict[str, int] = {}
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=4, pool_maxsize=max(4, self.policy.concurrency), max_retries=0
        )
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def __repr__(self) -> str:
        return f"PoliteSession(rate={self.policy.rate}, concurrency={self.policy.concurrency})"

    def rebuild_auth(self, prepared_request: Any, response: Any) -> None:
        # requests drops Authorization on a cross-host redirect already; make it unconditional for any host
        # change, scheme downgrade included, and never re-add it from netrc.
        old = urllib.parse.urlsplit(response.request.url)
        new = urllib.parse.urlsplit(prepared_request.url)
        if (old.scheme, old.hostname, old.port) != (new.scheme, new.hostname, new.port):
            prepared_request.headers.pop("Authorization", None)

    def _count(self, status: str) -> None:
        with self._count_lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        method = method.decode() if isinstance(method, bytes) else method
        url = url.decode() if isinstance(url, bytes) else url
        parts = urllib.parse.urlsplit(url)
        query = [
            (k, v)
            for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
            if k != "api_key" and v != ""  # tmdbv3api sends empty parameters such as "language="
        ]
        clean = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
        if method.upper() != "GET":
            raise TmdbError(f"AniVault only reads from TMDB; refused {method} {parts.path}")
        return self._get(clean, parts.path)

    def _get(self, url: str, path: str) -> requests.Response:
        p = self.policy
        deadline = self.clock.monotonic() + p.deadline
        attempt = 0
        last_problem = "no answer"
        while True:
            if not self.breaker.admit():
                wait = self.breaker.seconds_until_probe()
                raise TmdbUnavailable(
                    f"TMDB is failing; using only the cache for now (probe again in {wait:.0f}s)",
                    hint="the next `anivault match` retries what was deferred",
                )
            throttled = self.breaker.state.value == "throttle"
            outcome: str
            response: requests.Response | None = None
            body = b""
            try:
                with self.permit.hold(deadline, throttled):
                    with self._count_lock:
                        self.attempts += 1
                        if self.first_sent is None:
                            self.first_sent = self.clock.monotonic()
                    remaining = max(0.05, deadline - self.clock.monotonic())
                    headers = {"Accept": "application/json"}
                    target = url
                    if self._key.bearer:
                        headers["Authorization"] = f"Bearer {self._key.reveal()}"
                    else:
                        sep = "&" if urllib.parse.urlsplit(url).query else "?"
                        target = f"{url}{sep}api_key={urllib.parse.quote(self._key.reveal(), safe='')}"
                    response = super().request(
                        "GET",
                        target,
                        headers=headers,
                        timeout=(min(p.connect_timeout, remaining), min(p.read_timeout, remaining)),
                        stream=True,
                        allow_redirects=True,
                    )
                    body = self._read_capped(response, deadline)
                    self.last_done = self.clock.monotonic()
                outcome = "ok"
            except TmdbUnavailable:
                self.breaker.record(False)  # release a probe slot, count the miss
                raise
            except TmdbBadResponse:
                self.breaker.record(True)  # the server answered; its body is the problem
                raise
            except requests.exceptions.Timeout:
                outcome, last_problem = "retry", "timed out"
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                outcome, last_problem = "retry", _short_cause(exc)
            except requests.exceptions.RequestException as exc:
                outcome, last_problem = "retry", _short_cause(exc)
            if response is not None and outcome == "ok":
                status = response.status_code
                self._count(str(status))
                if status == 200:
                    self.breaker.record(True)
                    return self._finish(response, body, path)
                if status == 429:
                    ra = parse_retry_after(
                        response.headers.get("Retry-After"),
                        now_wall=self.clock.wall(),
                        default=p.retry_after_default,
                        cap=p.retry_after_cap,
                    )
                    if ra > p.retry_after_cap:
                        self.permit.gate.pause(p.retry_after_cap)
                        self.breaker.force_open()
                        raise TmdbUnavailable(
                            f"TMDB asked us to wait more than {p.retry_after_cap:.0f}s; switching to cache only",
                            hint="the next `anivault match` retries what was deferred",
                        )
                    self.permit.gate.pause(ra)
                    self.breaker.record(False, throttled=True)
                    log.info("TMDB rate limit hit on %s; all workers pause %.1fs", path, ra)
                    if self.clock.monotonic() + ra >= deadline:
                        raise TmdbUnavailable("TMDB kept answering 'too many requests'", hint="retry later")
                    continue  # the gate makes every worker wait; a 429 does not use up a retry
                if status == 401:
                    self.breaker.record(True)
                    raise TmdbAuthError(
                        "TMDB refused the API key (401)",
                        hint=f"check your key: {KEY_ENV} or `anivault settings set-key`",
                    )
                if status == 404:
                    self.breaker.record(True)
                    raise TmdbNotFound(f"TMDB has nothing at {path}")
                if 400 <= status < 500:
                    self.breaker.record(True)
                    raise TmdbBadResponse(f"TMDB rejected the request for {path} ({status})")
                outcome, last_problem = "retry", f"HTTP {status}"
            else:
                self._count(last_problem)
            # a 5xx, a reset or a timeout: back off, then retry while attempts and time remain
            self.breaker.record(False)
            if attempt >= p.retries:
                raise TmdbUnavailable(
                    f"TMDB failed {attempt + 1} times for {path} ({last_problem})",
                    hint="the next `anivault match` retries what was deferred",
                )
            delay = backoff_delay(attempt, p, self.rng)
            attempt += 1
            if self.clock.monotonic() + delay >= deadline:
                raise TmdbUnavailable(
                    f"TMDB did not answer in time for {path} ({last_problem})", hint="retry later"
                )
            self._sleep(delay)

    def _sleep(self, seconds: float) -> None:
        end = self.clock.monotonic() + seconds
        while (left := end - self.clock.monotonic()) > 0:
            if self.cancel.is_set():
                raise TmdbUnavailable("TMDB lookups were interrupted")
            self.clock.sleep(min(left, 0.05))

    def _read_capped(self, response: requests.Response, deadline: float) -> bytes:
        """Stream the body with a size cap and the total deadline (a 1 byte/s trickle must end)."""
        cap = self.policy.max_body_bytes
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > cap:
            response.close()
            raise TmdbBadResponse(f"TMDB answer too large ({int(length)} bytes > {cap})")
        chunks: list[bytes] = []
        size = 0
        raw = response.raw
        try:
            while True:
                # read1 returns whatever has arrived (iter_content would wait for a full chunk), so the
                # deadline is checked even against a server that trickles a byte at a time
                try:
                    chunk = raw.read1(65536, decode_content=True)
                except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
                    raise requests.exceptions.Timeout("read timed out") from exc
                except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError, OSError) as exc:
                    raise requests.exceptions.ChunkedEncodingError(str(exc)) from exc
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise TmdbBadResponse(f"TMDB answer too large (over {cap} bytes)")
                chunks.append(chunk)
                if self.clock.monotonic() > deadline:
                    raise requests.exceptions.Timeout("body not finished before the deadline")
        finally:
            response.close()
        return b"".join(chunks)

    def _finish(self, response: requests.Response, body: bytes, path: str) -> requests.Response:
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise TmdbBadResponse(f"TMDB sent something that is not JSON for {path}") from None
        except RecursionError:
            raise TmdbBadResponse(f"TMDB sent JSON nested too deeply to read for {path}") from None
        if _depth(data) > MAX_JSON_DEPTH:
            # tmdbv3api turns answers into objects recursively: a few hundred levels exhaust the stack
            raise TmdbBadResponse(f"TMDB sent JSON nested too deeply to read for {path}")
        if not isinstance(data, dict):
            raise TmdbBadResponse(f"TMDB sent unexpected JSON for {path}")
        response._content = body
        response._content_consumed = True  # type: ignore[attr-defined]
        return response


# TMDB's answers nest five levels at most (translations.translations[].data.name); 32 leaves room.
MAX_JSON_DEPTH = 32


def _depth(data: Any) -> int:
    """How deeply lists and objects nest in ``data`` (without recursion: the data is untrusted)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            value = value.values()
        elif not isinstance(value, list):
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((v, level + 1) for v in value if isinstance(v, dict | list))
    return deepest


def _short_cause(exc: BaseException) -> str:
    """A one-line cause without URLs (they carry no key, but they are noise in a summary)."""
    name = type(exc).__name__
    text = str(exc)
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    if "RemoteDisconnected" in text or "reset" in text.lower() or "aborted" in text.lower():
        return "connection dropped"
    return redact(name)
