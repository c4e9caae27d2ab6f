"""Politeness toward TMDB: rate, concurrency, the shared Retry-After gate and the circuit breaker.

Why each piece exists (RELIABILITY.md G9, §5.E):
- pyrate-limiter keeps the request *rate* (default 35/s) but not concurrency and knows nothing of Retry-After,
  so a semaphore caps requests in flight (default 4) and a :class:`PauseGate` shared by every worker holds
  *all* of them after a 429 (urllib3 would sleep inside one worker while the others keep sending).
- The breaker moves ``NORMAL → THROTTLE → CACHE_ONLY → SLEEP_THEN_RESUME``: a 429 throttles (a lower rate for
  a while); when 429/5xx/timeouts dominate a window of recent calls, only the cache answers; after a cool-down
  one probe request goes out and, if it succeeds, the client resumes (throttled first, then normal).
- Time comes from an injectable :class:`Clock` so the gate, the breaker and Retry-After parsing are testable
  without real sleeping.
"""

from __future__ import annotations

import collections
import email.utils
import enum
import math
import random
import threading
import time
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def wall(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ClientState(enum.StrEnum):
    NORMAL = "normal"
    THROTTLE = "throttle"  # after a 429: a lower rate until calls succeed again for a while
    CACHE_ONLY = "cache_only"  # failures dominate: no HTTP at all until the cool-down ends
    SLEEP_THEN_RESUME = "sleep_then_resume"  # cool-down over: one probe may go out, the rest wait


@dataclass(slots=True)
class PolitenessPolicy:
    rate: float = 35.0  # requests per second (TMDB answers 429 above ~40/s)
    concurrency: int = 4  # requests in flight at once
    connect_timeout: float = 5.0
    read_timeout: float = 10.0  # between bytes; the deadline below bounds a slow trickle
    deadline: float = 30.0  # total seconds one logical request may take, retries and waits included
    retries: int = 3  # extra attempts after a 5xx, a reset or a timeout (GET only)
    backoff_base: float = 0.5  # first backoff; doubles per attempt, with full jitter
    backoff_max: float = 8.0
    retry_after_default: float = 2.0  # a 429 whose Retry-After is missing or garbage
    retry_after_cap: float = 60.0  # a longer ask than this: stop asking, go cache-only
    throttle_factor: float = 0.5  # rate multiplier while THROTTLE
    throttle_hold: float = 10.0  # seconds without a 429 before THROTTLE returns to NORMAL
    breaker_window: int = 40  # recent attempts considered (retries count: a storm is judged by attempts)
    breaker_min_calls: int = 20  # do not judge on fewer calls than this (a full window)
    breaker_ratio: float = 0.6  # failures at or above this share of the window open the breaker
    breaker_cooldown: float = 5.0  # seconds in CACHE_ONLY before a probe may go out
    max_body_bytes: int = 5_000_000  # larger responses are refused (G12)
    # The server counts requests per 1-second window as they *arrive*; our window is a little longer so
    # that network and scheduling jitter can never put limit+1 arrivals into one server-side second.
    window_margin_ms: int = 100


def parse_retry_after(value: str | None, *, now_wall: float, default: float, cap: float) -> float:
    """Seconds to wait for a Retry-After header: whole/fractional seconds or an HTTP date.

    Lenient by design: garbage, negative, NaN or missing values give ``default``; a date in the past gives 0;
    anything above ``cap`` is returned as ``cap`` + a hair so the caller can tell "capped" apart.
    """
    if value is None:
        return default
    text = value.strip()
    if not text:
        return default
    seconds: float | None = None
    try:
        seconds = float(text)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
        if parsed is not None:
            try:
                seconds = max(0.0, parsed.timestamp() - now_wall)
            except (OverflowError, OSError, ValueError):
                seconds = None
    if seconds is None or math.isnan(seconds) or seconds < 0:
        return default
    if math.isinf(seconds) or seconds > cap:
        return cap + 0.001
    return seconds


class PauseGate:
    """One gate for all workers: after a 429 nobody sends before ``until``."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._until = 0.0
        self._cond = threading.Condition()

    def pause(self, seconds: float) -> None:
        with self._cond:
            self._until = max(self._until, self._clock.monotonic() + seconds)
            self._cond.notify_all()

    def remaining(self) -> float:
        with self._cond:
            return max(0.0, self._until - self._clock.monotonic())


class CircuitBreaker:
    """Counts outcomes of recent calls and decides whether HTTP may be used at all."""

    def __init__(self, policy: PolitenessPolicy, clock: Clock) -> None:
        self._p = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._outcomes: collections.deque[bool] = collections.deque(maxlen=policy.breaker_window)
        self._state = ClientState.NORMAL
        self._opened_at = 0.0
        self._last_429 = -math.inf
        self._probe_out = False
        self.transitions: list[tuple[ClientState, ClientState]] = []
        self.opened = 0

    @property
    def state(self) -> ClientState:
        with self._lock:
            self._tick()
            return self._state

    def _move(self, new: ClientState) -> None:
        if new != self._state:
            self.transitions.append((self._state, new))
            self._state = new

    def _tick(self) -> None:
        now = self._clock.monotonic()
        if self._state == ClientState.CACHE_ONLY and now - self._opened_at >= self._p.breaker_cooldown:
            self._move(ClientState.SLEEP_THEN_RESUME)
            self._probe_out = False
        elif self._state == ClientState.THROTTLE and now - self._last_429 >= self._p.throttle_hold:
            self._move(ClientState.NORMAL)

    def admit(self) -> bool:
        """May a request go out now? In SLEEP_THEN_RESUME only one probe at a time is admitted."""
        with self._lock:
            self._tick()
            if self._state == ClientState.CACHE_ONLY:
                return False
            if self._state == ClientState.SLEEP_THEN_RESUME:
                if self._probe_out:
                    return False
                self._probe_out = True
            return True

    def seconds_until_probe(self) -> float:
        with self._lock:
            if self._state != ClientState.CACHE_ONLY:
                return 0.0
            return max(0.0, self._opened_at + self._p.breaker_cooldown - self._clock.monotonic())

    def record(self, ok: bool, *, throttled: bool = False) -> None:
        """One finished attempt. Only 429, 5xx, resets and timeouts count as failures (not 401/404/422)."""
        with self._lock:
            self._tick()
            now = self._clock.monotonic()
            if throttled:
                self._last_429 = now
            if self._state == ClientState.SLEEP_THEN_RESUME:
                self._probe_out = False
                if ok:
                    # the probe came back: resume gently, and judge afresh
                    self._outcomes.clear()
                    self._last_429 = now
                    self._move(ClientState.THROTTLE)
                else:
                    self._open(now)
                return
            if self._state == ClientState.CACHE_ONLY:
                return  # a straggler that left before the breaker opened
            self._outcomes.append(ok)
            failures = sum(1 for x in self._outcomes if not x)
            if (
                len(self._outcomes) >= self._p.breaker_min_calls
                and failures / len(self._outcomes) >= self._p.breaker_ratio
            ):
                self._open(now)
            elif throttled:
                self._move(ClientState.THROTTLE)

    def force_open(self) -> None:
        """Open now (e.g. a Retry-After longer than we are willing to wait)."""
        with self._lock:
            self._open(self._clock.monotonic())

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._outcomes.clear()
        if self._state != ClientState.CACHE_ONLY:
            self.opened += 1
        self._move(ClientState.CACHE_ONLY)


def backoff_delay(attempt: int, policy: PolitenessPolicy, rng: random.Random) -> float:
    """Exponential backoff with full jitter (AWS style): the first retry is not immediate."""
    ceiling = min(policy.backoff_max, policy.backoff_base * (2**attempt))
    return policy.backoff_base / 2 + rng.uniform(0, ceiling)
