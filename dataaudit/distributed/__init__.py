"""The audit on a Dask cluster (``scan(..., client=)``, ``--scheduler``): rows stay in the
workers' partitions; the driver holds per-class and per-pair summaries, the fitted probe
models and the report's figures, never an O(n x d) array nor the per-row columns.

Dask is optional (``pip install "dataaudit[dask]"``); nothing here is imported by a scan
without a client.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from ..errors import ClusterError, DataAuditError, UsageError, param

INSTALL = 'pip install "dataaudit[dask]"'


def require() -> None:
    """Dask with its distributed scheduler, or a usage error naming the install line."""
    from importlib.util import find_spec

    missing = [name for name in ("dask", "distributed", "pyarrow") if find_spec(name) is None]
    if missing:
        raise UsageError(f"{param('client')} needs Dask ({' and '.join(missing)} not installed): {INSTALL}")


def _is_cluster_failure(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("distributed", "tornado")) or isinstance(exc, (TimeoutError, ConnectionError))


@contextmanager
def cluster_failures() -> Iterator[None]:
    """Turn the cluster's failures (a worker lost more often than Dask retries, the scheduler
    gone, a task cancelled with its data) into one :class:`~dataaudit.errors.ClusterError` line."""
    try:
        yield
    except DataAuditError:
        raise
    except Exception as exc:
        if not _is_cluster_failure(exc):
            raise
        text = " ".join(str(exc).split())[:300]
        raise ClusterError(f"the Dask cluster failed during the scan ({type(exc).__name__}: {text}); nothing was "
                           "written: check the workers' logs (memory limits, restarts) and scan again") from None


__all__ = ["INSTALL", "cluster_failures", "require"]
