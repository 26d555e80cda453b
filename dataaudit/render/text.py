"""Terminal view of a report, with rich tables. No computation: it reads report.summary."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..utils import plural

_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def _classes_table(summary: dict[str, Any]) -> Table:
    cb = summary.get("class_balance")
    table = Table(title="Classes", title_justify="left")
    table.add_column("label")
    table.add_column("count", justify="right")
    table.add_column("fraction", justify="right")
    if cb:
        table.add_column("class_weight (balanced)", justify="right")
        table.add_column("effective-number", justify="right")
        for c in cb["classes"][:30]:
            table.add_row(
                str(c["label"]) + (" (rare)" if c["is_rare"] else ""),
                str(c["count"]),
                f"{c['fraction']:.2%}",
                f"{c['weight_balanced']:.3g}",
                f"{c['weight_effective_number']:.3g}",
            )
    else:
        n = summary["dataset"]["n_samples"]
        for c in summary["dataset"]["classes"][:30]:
            table.add_row(str(c["label"]), str(c["count"]), f"{c['count'] / n:.2%}")
    return table


def _metrics_table(summary: dict[str, Any]) -> Table:
    table = Table(title="Metrics (usable in --fail-on)", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in summary["metrics"].items():
        table.add_row(key, f"{value:.4g}")
    return table


def render(report, console: Console | None = None) -> None:
    """Print the report to the terminal (standard output by default)."""
    console = console or Console()
    s = report.summary
    d = s["dataset"]
    console.print(
        Text.assemble(
            ("dataaudit ", "bold"),
            f"{plural(d['n_samples'], 'sample')} x {plural(d['n_features'], 'feature')}, "
            f"{plural(d['n_classes'], 'class', 'classes')}; "
            f"checks: {', '.join(s['checks_run']) or 'none'}",
        )
    )
    if "probe" in s:
        p = s["probe"]
        console.print(f"probe: {p.get('model')}" + (f", {p['n_folds']}-fold out-of-sample" if p.get("n_folds") else ""))
    console.print(_classes_table(s))
    findings = s["findings"]
    if findings:
        table = Table(title="Findings", title_justify="left", show_lines=True)
        table.add_column("severity")
        table.add_column("check")
        table.add_column("count", justify="right")
        table.add_column("what, and what to do")
        for f in findings:
            body = Text(f["message"], style="bold")
            body.append("\n" + f["advice"], style="default")
            table.add_row(Text(f["severity"], style=_STYLE[f["severity"]]), f["check"], str(f["count"]), body)
        console.print(table)
    else:
        console.print("[green]No problems found.[/green]")
    console.print(_metrics_table(s))
    gate = s.get("gate")
    if gate:
        if gate["passed"]:
            console.print(f"[green]gate passed[/green]: {', '.join(gate['conditions'])}")
        else:
            tripped = ", ".join(f"{t['condition']} (value {t['value']:.4g})" for t in gate["tripped"])
            console.print(f"[bold red]gate tripped[/bold red]: {tripped}")
