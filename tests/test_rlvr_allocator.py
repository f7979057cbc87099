"""The CPU allocator setting: takes on glibc Linux, is a no-op elsewhere, and runs once."""

from __future__ import annotations

import platform
import sys

from insight_bayes.rlvr.allocator import keep_freed_memory


def test_keep_freed_memory_takes_on_glibc_and_is_cached():
    took = keep_freed_memory()
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert took is glibc
    assert keep_freed_memory() is took
    assert keep_freed_memory.cache_info().hits >= 1
