"""Exceptions raised at dataaudit's public boundary.

Every message is one line that names the problem and how to fix it; the CLI prints it as
is and exits with code 2.
"""

from __future__ import annotations


class DataAuditError(Exception):
    """Base class of every error dataaudit raises on purpose."""


class InputError(DataAuditError, ValueError):
    """The data given cannot be audited as it is (wrong shape, bad values, unreadable file)."""


class InputTypeError(InputError, TypeError):
    """An argument has a type dataaudit does not accept."""


class UsageError(DataAuditError, ValueError):
    """Options that do not fit together, or an unknown option value."""


class OutputError(DataAuditError, OSError):
    """The output directory cannot be written."""
