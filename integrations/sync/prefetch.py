"""Fetch pages while the writer writes.

A sync is a loop of "fetch a page from BMS, write it to the database". Fetching ahead in
threads overlaps the two, so a sync takes about the longer of the two rather than their
sum: `prefetched` keeps one page ahead, `fetched_in_parallel` keeps several requests in
flight (each thread with a BMS client of its own). Both stay a bounded number of pages
ahead of the writer, and stop their threads when the writer stops.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
U = TypeVar("U")

_DONE = object()
_POLL_SECONDS = 0.2
_JOIN_SECONDS = 60


def prefetched(
    pages: Iterable[T],
    prepare: Callable[[T], U],
    *,
    on_thread_exit: Callable[[], None] = lambda: None,
) -> Iterator[U]:
    """Yield ``prepare(page)`` for each page, computed one page ahead in a thread (the only
    user of ``pages`` and its client meanwhile).

    An exception in the thread is raised here, where the consumer would have met it."""
    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in pages:
                if stop.is_set() or not _put(handoff, (prepare(page), None), stop):
                    return
            _put(handoff, (_DONE, None), stop)
        except BaseException as exc:  # handed to the consumer, which raises it
            _put(handoff, (None, exc), stop)
        finally:
            close = getattr(pages, "close", None)
            if close is not None:  # a generator's own clean-up runs now, in this thread
                close()
            on_thread_exit()

    thread = threading.Thread(target=produce, name="sync-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        _join([thread])


def fetched_in_parallel(fetchers: Sequence[Callable[[int], T]], first: int, last: int) -> Iterator[T]:
    """Pages ``first``..``last`` in order, with ``len(fetchers)`` requests in flight.

    Each fetcher (with a client of its own: a client is used by one thread only) runs in a
    thread taking the next page number not yet taken, so pages are fetched in order, and
    no more than len(fetchers) pages are fetched or in flight beyond those the consumer
    has taken. The consumer may stop early (a short page ended the listing): the threads
    stop after the request they are in. An exception in a thread is raised here, at its
    page."""
    workers = max(1, min(len(fetchers), last - first + 1))
    ahead = threading.Semaphore(workers)  # pages fetched or in flight, not yet taken
    arrived = threading.Condition()
    results: dict[int, tuple[T | None, BaseException | None]] = {}
    numbers = iter(range(first, last + 1))
    stop = threading.Event()

    def produce(fetch: Callable[[int], T]) -> None:
        while True:
            while not ahead.acquire(timeout=_POLL_SECONDS):
                if stop.is_set():
                    return
            with arrived:
                number = next(numbers, None)
            if number is None or stop.is_set():
                return
            try:
                result: tuple[T | None, BaseException | None] = (fetch(number), None)
            except BaseException as exc:  # handed to the consumer, which raises it at this page
                result = (None, exc)
            with arrived:
                results[number] = result
                arrived.notify_all()
            if result[1] is not None:
                return

    threads = [
        threading.Thread(target=produce, args=(fetchers[worker],), name=f"sync-fetch-{worker}", daemon=True)
        for worker in range(workers)
    ]
    for thread in threads:
        thread.start()
    try:
        for number in range(first, last + 1):
            with arrived:
                while number not in results:
                    arrived.wait(_POLL_SECONDS)
                page, error = results.pop(number)
            ahead.release()
            if error is not None:
                raise error
            yield page  # type: ignore[misc]
    finally:
        stop.set()
        _join(threads)


def _put(handoff: queue.Queue, item, stop: threading.Event) -> bool:
    """Hand an item over, unless the consumer has stopped meanwhile."""
    while not stop.is_set():
        try:
            handoff.put(item, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def _join(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=_JOIN_SECONDS)
        if thread.is_alive():  # still in a request; its client is its own, and dropped with it
            logger.warning("Sync thread %s is still in a request after %s s; leaving it", thread.name, _JOIN_SECONDS)
