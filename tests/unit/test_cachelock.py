"""Two builders of one cache entry: the second waits, then finds the entry finished."""

from __future__ import annotations

import threading
import time

from pybuildssl import cachelock


def test_a_second_builder_waits_for_the_first(tmp_path):
    order: list[str] = []
    first_has_it = threading.Event()
    release = threading.Event()

    def first():
        with cachelock.held(tmp_path, "cpython-abc"):
            order.append("first in")
            first_has_it.set()
            release.wait(5)
            (tmp_path / "done").write_text("x")
            order.append("first out")

    t = threading.Thread(target=first)
    t.start()
    first_has_it.wait(5)
    told: list[str] = []
    threading.Timer(0.2, release.set).start()
    with cachelock.held(tmp_path, "cpython-abc", waiting=told.append):
        order.append("second in")
        assert (tmp_path / "done").is_file()  # it sees what the first one finished
    t.join()
    assert order == ["first in", "first out", "second in"]
    assert told[0].startswith("waiting for another build of cpython-abc") and "finished after" in told[1]


def test_other_entries_do_not_wait(tmp_path):
    with cachelock.held(tmp_path, "openssl-1"):
        start = time.monotonic()
        told: list[str] = []
        with cachelock.held(tmp_path, "openssl-2", waiting=told.append):
            pass
        assert told == [] and time.monotonic() - start < 5
