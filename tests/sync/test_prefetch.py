"""The page pipelines: one page ahead in a thread, or several requests in flight, in order."""

import threading
import time

import pytest

from integrations.sync.prefetch import fetched_in_parallel


def _fetcher(log: list, delay=lambda n: 0.0):
    def fetch(number: int) -> int:
        log.append((number, threading.current_thread().name))
        time.sleep(delay(number))
        return number

    return fetch


def test_pages_come_in_order_whatever_order_they_arrive_in():
    log: list = []
    # Odd pages slow, even pages fast: the consumer still sees 3..12 in order.
    fetchers = [_fetcher(log, lambda n: 0.02 if n % 2 else 0.0), _fetcher(log)]
    assert list(fetched_in_parallel(fetchers, 3, 12)) == list(range(3, 13))
    by_thread = {}
    for number, thread in log:
        by_thread.setdefault(thread, []).append(number)
    assert sorted(by_thread.values()) == [[3, 5, 7, 9, 11], [4, 6, 8, 10, 12]]


def test_requests_overlap():
    started = time.perf_counter()
    assert list(fetched_in_parallel([_fetcher([], lambda n: 0.1)] * 2, 1, 4)) == [1, 2, 3, 4]
    assert time.perf_counter() - started < 0.35  # two at a time: about 0.2 s, not 0.4 s


def test_a_consumer_that_stops_early_stops_the_threads():
    log: list = []
    pages = fetched_in_parallel([_fetcher(log), _fetcher(log)], 1, 1000)
    assert next(pages) == 1 and next(pages) == 2
    pages.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("sync-fetch-")]
    assert len(log) <= 6  # at most a page or two ahead per thread, never the whole range


def test_an_error_is_raised_at_its_page():
    def fetch(number: int) -> int:
        if number == 4:
            raise ConnectionError("BMS went away")
        return number

    seen = []
    with pytest.raises(ConnectionError, match="went away"):
        for page in fetched_in_parallel([fetch, fetch], 1, 10):
            seen.append(page)
    assert seen == [1, 2, 3]
    assert not [t for t in threading.enumerate() if t.name.startswith("sync-fetch-")]


def test_one_page_uses_one_thread():
    log: list = []
    assert list(fetched_in_parallel([_fetcher(log), _fetcher(log)], 5, 5)) == [5]
    assert len(log) == 1
