"""Exceptions raised at dataaudit's public boundary.

Every message is one line that names the problem and how to fix it. A message names the
parameters it is about with :func:`param`: ``str(error)`` gives their Python names
(``label_column``), and the CLI renders the same error with its flags (``--label-column``),
so the library never speaks CLI and the CLI never rewrites messages by hand.
"""

from __future__ import annotations

import re
from typing import Mapping

_PARAM = re.compile("\x1f([A-Za-z_][A-Za-z0-9_]*)\x1f")


def param(name: str) -> str:
    """Mark a parameter's name inside an error message (rendered by :meth:`DataAuditError.render`).

    Examples
    --------
    >>> error = UsageError(f"{param('label_column')} 'y' is not a column")
    >>> str(error), error.render({"label_column": "--label-column"})
    ("label_column 'y' is not a column", "--label-column 'y' is not a column")
    """
    return f"\x1f{name}\x1f"


class DataAuditError(Exception):
    """Base class of every error dataaudit raises on purpose."""

    def render(self, names: Mapping[str, str] | None = None) -> str:
        """The message, with each marked parameter shown as ``names[param]`` (default: its Python name)."""
        text = str(self.args[0]) if self.args else ""
        names = names or {}
        return _PARAM.sub(lambda m: names.get(m[1], m[1]), text)

    def __str__(self) -> str:
        return self.render()


class InputError(DataAuditError, ValueError):
    """The data given cannot be audited as it is (wrong shape, bad values, unreadable file)."""


class InputTypeError(InputError, TypeError):
    """An argument has a type dataaudit does not accept."""


class UsageError(DataAuditError, ValueError):
    """Options that do not fit together, or an unknown option value."""


class OutputError(DataAuditError, OSError):
    """The output directory cannot be written."""


class ClusterError(DataAuditError, RuntimeError):
    """The Dask cluster a scan ran on failed (a worker lost for good, the scheduler gone)."""
