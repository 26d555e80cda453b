"""Which checks a scan runs and with which options: the one place both the one-process scan and
the cluster's read them from (every mistake a usage error, before any long computation)."""

from __future__ import annotations

import inspect
from typing import Any, Iterable, Mapping

from . import probe
from .checks import REGISTRY
from .checks.base import NEED_DYNAMICS, NEED_SETUP, NEED_TEST
from .errors import UsageError, param

#: Options the probe takes in ``options={"probe": {...}}``.
PROBE_OPTIONS = ("passes", "epochs", "batch_size", "augment")


#: Shared inputs only some scans can have, and what the user gives to have them.
OPTIONAL_NEEDS = {
    NEED_TEST: f"a held-out split: pass {param('X_test')} and {param('y_test')}",
    NEED_DYNAMICS: f"the record of your Keras run: pass {param('dynamics')} (dataaudit.keras.AuditCallback)",
    NEED_SETUP: f"a Keras model: pass {param('model')} (a Keras model or .keras file) or {param('dynamics')}",
}


def available_needs(*, has_test: bool, has_record: bool, model: Any = "auto") -> set[str]:
    """The optional shared inputs a scan with these inputs can build."""
    has_keras = probe.is_keras_file(model) or probe.is_keras_model(model)
    return {need for need, has in ((NEED_TEST, has_test), (NEED_DYNAMICS, has_record),
                                   (NEED_SETUP, has_record or has_keras)) if has}


def _missing_needs(name: str, available: set[str]) -> list[str]:
    return [n for n in sorted(REGISTRY[name].NEEDS) if n in OPTIONAL_NEEDS and n not in available]


def select_checks(checks: str | Iterable[str] | None, available: set[str]) -> list[str]:
    """Resolve ``checks`` to registry names, in registry order (default: every check whose
    optional inputs, see :data:`OPTIONAL_NEEDS`, are ``available``)."""
    if checks is None:
        return [name for name in REGISTRY if not _missing_needs(name, available)]
    if isinstance(checks, str):
        checks = checks.split(",")
    names = [c.strip() for c in checks if c and c.strip()]
    unknown = [c for c in names if c not in REGISTRY]
    if unknown:
        raise UsageError(f"unknown check '{unknown[0]}' in {param('checks')}; choose from: {', '.join(REGISTRY)}")
    if not names:
        raise UsageError(f"no checks selected in {param('checks')}; choose from: {', '.join(REGISTRY)}")
    for c in names:
        missing = _missing_needs(c, available)
        if missing:
            raise UsageError(f"the '{c}' check needs {OPTIONAL_NEEDS[missing[0]]}")
    return [c for c in REGISTRY if c in names]


def check_options(name: str) -> tuple[str, ...]:
    """The keyword options a check's ``run`` takes."""
    signature = inspect.signature(REGISTRY[name].run)
    return tuple(p.name for p in signature.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY)


def validate_options(options: Mapping[str, Mapping[str, Any]] | None) -> tuple[dict, dict]:
    """Split ``options`` into per-check options and probe options; unknown keys are usage errors."""
    options = {k: dict(v) for k, v in (options or {}).items()}
    probe_options = options.pop("probe", {})
    for key in probe_options:
        if key not in PROBE_OPTIONS:
            raise UsageError(f"unknown probe option '{key}' in {param('options')}; the probe takes: {', '.join(PROBE_OPTIONS)}")
    for name, given in options.items():
        if name not in REGISTRY:
            raise UsageError(f"{param('options')} given for unknown check '{name}'; checks: {', '.join(REGISTRY)}")
        known = check_options(name)
        for key in given:
            if key not in known:
                raise UsageError(
                    f"unknown option '{key}' for the '{name}' check in {param('options')}; it takes: {', '.join(known) or 'none'}"
                )
        # A check that can judge its option values does so here, before the probe or the graph is built.
        validate_values = getattr(REGISTRY[name], "check_options", None)
        if validate_values is not None:
            validate_values(**given)
    return options, probe_options


__all__ = ["OPTIONAL_NEEDS", "PROBE_OPTIONS", "available_needs", "check_options", "select_checks", "validate_options"]
