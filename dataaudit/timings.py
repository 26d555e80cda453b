"""Where a scan's time and memory went: the wall time of each stage and the process's peak
memory when it ended, written to ``timings.json`` beside the report.

Kept out of ``report.json``, which stays the same for the same seed; timings never do.
"""

from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB. Linux's ``VmHWM`` is per address
    space; ``ru_maxrss`` (the fallback: KiB on Linux, bytes on macOS) survives ``exec``, so a
    spawned process would report its parent's peak."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


class Stopwatch:
    """Stages timed one after the other.

    Examples
    --------
    >>> watch = Stopwatch()
    >>> with watch.stage("load"):
    ...     pass
    >>> [s["stage"] for s in watch.to_dict()["stages"]]
    ['load']
    """

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._stages: list[dict[str, Any]] = []

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name``; the peak memory is the process's when it ends."""
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._stages.append({"stage": name, "seconds": round(time.perf_counter() - t0, 3),
                                 "peak_rss_mb": round(peak_rss_mb(), 1)})

    def to_dict(self) -> dict[str, Any]:
        """``{"stages": [...], "total_seconds", "peak_rss_mb"}``, JSON-ready."""
        return {"stages": list(self._stages), "total_seconds": round(time.perf_counter() - self._start, 3),
                "peak_rss_mb": round(peak_rss_mb(), 1)}


__all__ = ["Stopwatch", "peak_rss_mb"]
