"""The lookup workers."""

from __future__ import annotations

import concurrent.futures as cf
import queue
import threading
from collections.abc import Callable
from typing import Any


class DaemonPool:
    """The lookup workers: a thread pool whose threads do not keep the process alive.

    concurrent.futures joins its workers when the interpreter exits, so after Ctrl-C a lookup still
    waiting on TMDB held the process open until its request timed out (up to `tmdb.timeout`, 10 s by
    default), long after "interrupted" was decided and saved. Here the run thread writes what was decided
    and exits; a worker still on the wire is abandoned with the process. Workers only call TMDB and return
    a decision: the run's thread is the only one that writes the library.
    """

    def __init__(self, workers: int, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[cf.Future[Any], Callable[[Any], Any], Any] | None] = (
            queue.SimpleQueue()
        )
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True) for i in range(workers)
        ]
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[[Any], Any], arg: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        self._queue.put((future, fn, arg))
        return future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, arg = item
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            try:
                result = fn(arg)
            except BaseException as exc:  # handed to the run's thread, like concurrent.futures does
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self, *, wait: bool) -> None:
        """Cancel what has not started; with ``wait``, let the running lookups finish first."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item[0].cancel()
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for t in self._threads:
                t.join()
