"""The ``dataaudit`` command. It only parses, calls the library and maps errors to exit codes.

Exit codes: 0 scanned and no gate tripped, 1 a ``--fail-on`` gate tripped, 2 bad input or
usage (one line on standard error, never a traceback).
"""

from __future__ import annotations

import sys
from enum import Enum
from typing import Optional

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Audit a classification dataset: label noise, duplicates, imbalance, outliers.",
)


class OutputFormat(str, Enum):
    text = "text"
    json = "json"


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", is_eager=True),
) -> None:
    if version:
        from ._version import __version__

        typer.echo(f"dataaudit {__version__}")
        raise typer.Exit(0)


@app.command()
def scan(
    x: str = typer.Argument(..., metavar="X", help="Features: .npy, .npz, .csv or .parquet."),
    y: Optional[str] = typer.Argument(None, metavar="[Y]", help="Labels: .npy, .csv or .txt (omit with --label-column)."),
    out: Optional[str] = typer.Option(None, "--out", help="Directory for report.json, samples.csv, sample_weight.npy, split.npz, report.html, timings.json."),
    model: Optional[str] = typer.Option(None, "--model", help="Probe (default auto; with --dynamics, none unless given): auto (fast), ensemble (slower, stronger: use it before training on the weights or split), logistic, hgb, knn, mlp, svm, package.module:Class, or a .keras file."),
    pred_probs: Optional[str] = typer.Option(None, "--pred-probs", help="Precomputed out-of-sample probabilities (n, K)."),
    test_x: Optional[str] = typer.Option(None, "--test-x", help="Held-out features, checked for leakage."),
    test_y: Optional[str] = typer.Option(None, "--test-y", help="Held-out labels."),
    dynamics: Optional[str] = typer.Option(None, "--dynamics", help="A training record (AuditCallback.save): your own Keras run is the evidence; no probe is trained unless --model names one (then both are combined)."),
    checks: Optional[str] = typer.Option(None, "--checks", help="Comma-separated checks to run (default: all)."),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", help="What goes to standard output."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Gate, e.g. 'label_issues>0.05,conflicting_duplicates>0': exit 1 when it trips."),
    seed: int = typer.Option(0, "--seed", help="Seed for all randomness."),
    x_key: Optional[str] = typer.Option(None, "--x-key", help="Array name in an .npz X file."),
    y_key: Optional[str] = typer.Option(None, "--y-key", help="Array name in an .npz Y file."),
    label_column: Optional[str] = typer.Option(None, "--label-column", help="Label column when X is a table."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress messages on standard error."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Run on Dask (pip install \"dataaudit[dask]\"): local:N for a LocalCluster of N workers, or a scheduler's address (tcp://host:8786). X and Y may then be folders of .npy or .parquet shards; --out writes samples.parquet/ instead of samples.csv."),
) -> None:
    """Scan X (and labels Y) and report data problems."""
    from .files import scan_files
    from .probe import AUTO

    report = scan_files(
        x,
        y,
        x_key=x_key,
        y_key=y_key,
        label_column=label_column,
        pred_probs_path=pred_probs,
        test_x_path=test_x,
        test_y_path=test_y,
        dynamics_path=dynamics,
        out=out,
        model=AUTO if model is None else model,
        checks=checks,
        random_state=seed,
        fail_on=fail_on,
        progress=not quiet,
        scheduler=scheduler,
    )
    if fmt is OutputFormat.json:
        sys.stdout.write(report.to_json() + "\n")
    else:
        from .render.text import render

        render(report)
    gate = report.summary.get("gate")
    if gate and not gate["passed"]:
        raise typer.Exit(1)


#: How the CLI names the library's parameters in error messages (see dataaudit.errors.param).
CLI_NAMES = {
    "X": "X", "y": "Y", "x_key": "--x-key", "y_key": "--y-key", "label_column": "--label-column",
    "model": "--model", "pred_probs": "--pred-probs", "X_test": "--test-x", "y_test": "--test-y",
    "checks": "--checks", "fail_on": "--fail-on", "random_state": "--seed", "out": "--out", "directory": "--out",
    "dynamics": "--dynamics", "client": "--scheduler", "scheduler": "--scheduler",
}


def _fail(message: str) -> int:
    print(f"dataaudit: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code."""
    from .errors import DataAuditError

    try:
        code = app(args=argv, prog_name="dataaudit", standalone_mode=False)
    except DataAuditError as exc:
        code = _fail(exc.render(CLI_NAMES))
    except MemoryError:
        code = _fail("out of memory: scan a sample of the rows, or run fewer checks with --checks")
    except KeyboardInterrupt:
        print("dataaudit: interrupted", file=sys.stderr)
        code = 130
    except Exception as exc:
        # Typer's parsing errors (click's, vendored or not, depending on the typer version):
        # recognised by shape so that no traceback reaches the user.
        if not (hasattr(exc, "format_message") or type(exc).__name__ == "Abort"):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            ctx = getattr(exc, "ctx", None)
            print(ctx.get_help() if ctx else exc.format_message(), file=sys.stderr)
            code = 2
        elif type(exc).__name__ == "Abort":
            code = _fail("aborted")
        else:
            ctx = getattr(exc, "ctx", None)
            where = f"dataaudit {ctx.info_name}" if ctx is not None and ctx.parent is not None else "dataaudit"
            code = _fail(f"{exc.format_message()} (see '{where} --help')".replace("\n", " "))
    code = 0 if code is None else int(code)
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":  # pragma: no cover
    main()
