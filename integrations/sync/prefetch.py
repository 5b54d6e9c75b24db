"""Download the next page while this one is written.

A sync is a loop of "fetch a page from BMS, write it to the database". Fetching the
next page in a thread while the current one is written overlaps the two, so a sync
takes about the longer of the two rather than their sum. The producer thread is the
only user of the BMS client while the loop runs; it stays one page ahead at most.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")

_DONE = object()


def prefetched(
    pages: Iterable[T],
    prepare: Callable[[T], U],
    *,
    on_thread_exit: Callable[[], None] = lambda: None,
) -> Iterator[U]:
    """Yield ``prepare(page)`` for each page, computed one page ahead in a thread.

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
        thread.join(timeout=60)


def fetched_in_parallel(fetchers: Sequence[Callable[[int], T]], first: int, last: int) -> Iterator[T]:
    """Pages ``first``..``last`` in order, ``len(fetchers)`` requests in flight at a time.

    Fetcher i (a client of its own: a client is used by one thread only) fetches every
    len(fetchers)-th page in a thread, at most one page ahead of the consumer. The consumer
    may stop early (a short page ended the listing); the threads stop after the request
    they are in. An exception in a thread is raised here, at its page."""
    workers = max(1, min(len(fetchers), last - first + 1))
    handoffs: list[queue.Queue] = [queue.Queue(maxsize=1) for _ in range(workers)]
    stop = threading.Event()

    def produce(worker: int) -> None:
        fetch, handoff = fetchers[worker], handoffs[worker]
        try:
            for number in range(first + worker, last + 1, workers):
                if stop.is_set() or not _put(handoff, (fetch(number), None), stop):
                    return
        except BaseException as exc:  # handed to the consumer, which raises it at this page
            _put(handoff, (None, exc), stop)

    threads = [
        threading.Thread(target=produce, args=(worker,), name=f"sync-fetch-{worker}", daemon=True)
        for worker in range(workers)
    ]
    for thread in threads:
        thread.start()
    try:
        for number in range(first, last + 1):
            item, error = handoffs[(number - first) % workers].get()
            if error is not None:
                raise error
            yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def _put(handoff: queue.Queue, item, stop: threading.Event) -> bool:
    """Hand an item over, unless the consumer has stopped meanwhile."""
    while not stop.is_set():
        try:
            handoff.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False
