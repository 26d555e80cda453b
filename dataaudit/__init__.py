"""dataaudit: a data-quality auditor for classification datasets.

>>> import dataaudit
>>> report = dataaudit.scan(X, y)            # doctest: +SKIP
>>> report.samples, report.summary           # doctest: +SKIP
"""

from ._version import __version__
from .errors import DataAuditError, InputError, InputTypeError, OutputError, UsageError  # noqa: E402
from .recorder import TrainingRecorder  # noqa: E402
from .report import Report  # noqa: E402
from .scan import scan  # noqa: E402

__all__ = [
    "scan",
    "Report",
    "TrainingRecorder",
    "DataAuditError",
    "InputError",
    "InputTypeError",
    "UsageError",
    "OutputError",
    "__version__",
]
