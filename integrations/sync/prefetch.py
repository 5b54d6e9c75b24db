"""Download the next page while this one is written.

A sync is a loop of "fetch a page from BMS, write it to the database". Fetching the
next page in a thread while the current one is written overlaps the two, so a sync
takes about the longer of the two rather than their sum. The producer thread is the
only user of the BMS client while the loop runs; it stays one page ahead at most.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
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

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if stop.is_set() or not put((prepare(page), None)):
                    return
            put((_DONE, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((None, exc))
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
