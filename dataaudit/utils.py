"""Small pure helpers shared across modules: one definition of each policy number and rule."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .errors import InputTypeError, param

#: Rows per chunk when a pass over the data is made in pieces (memory-mapped input is never
#: copied whole): at most this many rows...
CHUNK_ROWS = 65_536
#: ...and at most this many values (about 32 MB of float64) for wide data.
CHUNK_VALUES = 4_000_000


def chunk_rows(n_features: int) -> int:
    """Rows per chunk for data with ``n_features`` columns.

    Examples
    --------
    >>> chunk_rows(64), chunk_rows(784), chunk_rows(10**7)
    (62500, 5102, 64)
    """
    return int(max(64, min(CHUNK_ROWS, CHUNK_VALUES // max(int(n_features), 1))))


def tukey_fence(values: np.ndarray, whisker: float = 3.0, floor: float = -np.inf) -> float:
    """Tukey's fence ``Q3 + whisker * IQR`` of ``values``, at least ``floor``.

    With ``whisker=3`` it marks "far out" values; the floor keeps a near-constant
    distribution (IQR ~ 0) from calling ordinary values extreme.

    Examples
    --------
    >>> tukey_fence(np.r_[np.ones(99), 50.0], floor=3.0)
    3.0
    >>> round(tukey_fence(np.arange(101.0)), 6)
    225.0
    """
    q1, q3 = np.quantile(np.asarray(values, dtype=np.float64), [0.25, 0.75])
    return fence(q1, q3, whisker, floor)


def fence(q1: float, q3: float, whisker: float = 3.0, floor: float = -np.inf) -> float:
    """:func:`tukey_fence` from quartiles already known (merged over blocks, for example).

    Examples
    --------
    >>> fence(1.0, 2.0), fence(1.0, 1.0, floor=3.0)
    (5.0, 3.0)
    """
    return float(max(q3 + whisker * (q3 - q1), floor))


def json_value(value: Any, *, digits: int | None = None) -> Any:
    """A JSON-ready Python value: numpy scalars to Python ones, dicts, lists and tuples
    recursively; with ``digits``, floats rounded and NaN or infinite ones to None.

    Examples
    --------
    >>> json_value(np.int64(3)), json_value(np.str_("cat")), json_value("dog")
    (3, 'cat', 'dog')
    >>> json_value({"a": (np.float32(0.5), np.nan), "b": np.bool_(True)}, digits=3)
    {'a': [0.5, None], 'b': True}
    """
    if isinstance(value, dict):
        return {k: json_value(v, digits=digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v, digits=digits) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if digits is not None and isinstance(value, float):
        return round(value, digits) if np.isfinite(value) else None
    return value


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``"1 class"``, ``"2 classes"``, ``"1,797 samples"``.

    Examples
    --------
    >>> plural(1, "class", "classes"), plural(1797, "sample")
    ('1 class', '1,797 samples')
    """
    word = singular if int(count) == 1 else (plural_form or singular + "s")
    return f"{int(count):,} {word}"


def resolve_seed(random_state: Any) -> int:
    """One integer seed from scikit-learn's ``random_state`` conventions.

    An int is used as it is; ``None`` draws a fresh seed (a different report each time); a
    ``numpy.random.Generator`` or ``RandomState`` draws the seed from itself, so the caller's
    generator decides. Everything downstream derives its randomness from the returned int.

    Examples
    --------
    >>> resolve_seed(7)
    7
    >>> resolve_seed(np.random.default_rng(0)) == resolve_seed(np.random.default_rng(0))
    True
    """
    if isinstance(random_state, (bool, np.bool_)):
        raise InputTypeError(f"{param('random_state')} must be an int, None or a numpy Generator, not a bool")
    if isinstance(random_state, numbers.Integral):
        if not 0 <= int(random_state) < 2**32:
            raise InputTypeError(f"{param('random_state')} must be between 0 and 2**32 - 1, not {int(random_state)}")
        return int(random_state)
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1)[0])
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**32))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, 2**32, dtype=np.uint64))
    raise InputTypeError(
        f"{param('random_state')} must be an int, None or a numpy Generator, not {type(random_state).__name__}"
    )
