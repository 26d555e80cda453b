"""Import Keras without TensorFlow's C++ start-up lines on standard error.

TensorFlow prints oneDNN and absl notices to file descriptor 2 while it loads, whatever
``TF_CPP_MIN_LOG_LEVEL`` says (those two ignore it); a bad-input run must still print exactly
one line there. So ``TF_CPP_MIN_LOG_LEVEL`` is set to 2 unless the user set it, and the import
runs with descriptor 2 pointed at a temporary file, replayed only if the import fails, unless
the user asked for every log line (``TF_CPP_MIN_LOG_LEVEL=0``). TensorFlow's Python logger is
set to errors only unless the user set its level: the probe trains a fresh model per fold, and
TensorFlow warns on each "retracing" prediction, which says nothing the user can act on.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile


def import_keras():
    """``import keras``, quietly on first import (see the module notes)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    tf_logger = logging.getLogger("tensorflow")
    if tf_logger.level == logging.NOTSET and os.environ["TF_CPP_MIN_LOG_LEVEL"] != "0":
        tf_logger.setLevel(logging.ERROR)
    if "keras" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":
        import keras

        return keras
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import keras
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return keras
