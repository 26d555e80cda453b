"""The client a scan runs on: a scheduler's address, or a LocalCluster made for the scan."""

from __future__ import annotations

import logging
from typing import Any

from ..errors import UsageError, param
from . import require

#: Seconds to wait for a scheduler before saying it cannot be reached.
CONNECT_TIMEOUT = 10


def connect(scheduler: str) -> Any:
    """A ``dask.distributed.Client`` for ``scheduler``: ``local`` or ``local:N`` (a LocalCluster
    of N single-threaded worker processes; N defaults to the machine's cores) or a scheduler's
    address (``tcp://host:8786``).

    Examples
    --------
    >>> connect("nowhere:1")
    Traceback (most recent call last):
    ...
    dataaudit.errors.UsageError: scheduler 'nowhere:1' is neither local, local:N nor an address such as tcp://host:8786
    """
    scheduler = scheduler.strip()
    if scheduler == "local" or scheduler.startswith("local:"):
        workers = scheduler.partition(":")[2]
        if workers and not (workers.isdigit() and int(workers) > 0):
            raise UsageError(f"{param('scheduler')} '{scheduler}': after local: comes a number of workers, e.g. local:2")
        require()
        import os

        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=int(workers) if workers else os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(cluster)
        client._dataaudit_cluster = cluster  # made here: closed by close()
        return client
    if "://" not in scheduler:
        raise UsageError(f"{param('scheduler')} '{scheduler}' is neither local, local:N nor an address such as "
                         "tcp://host:8786")
    require()
    from distributed import Client

    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler} within {CONNECT_TIMEOUT} s ({exc}): "
                         f"check the address given as {param('scheduler')} and that the scheduler is running") from None


def close(client: Any) -> None:
    """Close a client made by :func:`connect` and, for a LocalCluster, the cluster."""
    cluster = getattr(client, "_dataaudit_cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


def worker_memory(client: Any) -> int | None:
    """The smallest memory limit of the client's workers in bytes (None: none is limited)."""
    limits = [w.get("memory_limit") or 0 for w in client.scheduler_info().get("workers", {}).values()]
    limits = [int(m) for m in limits if m]
    return min(limits) if limits else None


__all__ = ["connect", "close", "worker_memory"]
