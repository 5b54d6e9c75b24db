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
    # Odd pages slow, even pages fast: the consumer still sees 3..12 in order, each fetched once.
    fetchers = [_fetcher(log, lambda n: 0.02 if n % 2 else 0.0), _fetcher(log, lambda n: 0.02 if n % 2 else 0.0)]
    assert list(fetched_in_parallel(fetchers, 3, 12)) == list(range(3, 13))
    assert sorted(number for number, _thread in log) == list(range(3, 13))
    assert {thread for _number, thread in log} == {"sync-fetch-0", "sync-fetch-1"}


def test_never_more_than_two_pages_ahead_of_a_slow_consumer():
    log: list = []
    for taken, page in enumerate(fetched_in_parallel([_fetcher(log), _fetcher(log)], 1, 30), start=1):
        assert page == taken
        time.sleep(0.01)  # the writer
        assert len(log) <= taken + 2, (taken, len(log))
    assert len(log) == 30


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
    assert len(log) <= 4  # the two taken and at most two ahead, never the whole range


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


def test_the_prefetch_thread_closes_its_source_when_the_consumer_stops():
    from integrations.sync.prefetch import prefetched

    closed = threading.Event()

    def source():
        try:
            yield from range(100)
        finally:
            closed.set()

    pages = prefetched(source(), lambda page: page)
    assert next(pages) == 0
    pages.close()
    assert closed.wait(2)
    assert not [t for t in threading.enumerate() if t.name == "sync-prefetch"]
