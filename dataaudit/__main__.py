"""``python -m dataaudit``: the same command as ``dataaudit``."""

from .cli import main

if __name__ == "__main__":  # a Dask LocalCluster's worker processes import this module too
    main()
