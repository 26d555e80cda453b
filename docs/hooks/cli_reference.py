"""MkDocs hook: the command-line reference, generated from the typer app when the site is built.

A page holding the line ``<!-- cli-reference -->`` gets, in its place, the help of every
command of ``dataaudit.cli.app`` (as ``dataaudit COMMAND --help`` prints it) and a table of its
options: the reference cannot drift from the app, and nothing generated is committed.
"""

from __future__ import annotations

MARKER = "<!-- cli-reference -->"


def _reference() -> str:
    import click
    import typer

    from dataaudit.cli import app

    group = typer.main.get_command(app)
    parts = []
    with click.Context(group, info_name="dataaudit") as root:
        parts += ["## dataaudit", "", "```text", group.get_help(root).rstrip(), "```", ""]
        for name in group.list_commands(root):
            command = group.get_command(root, name)
            with click.Context(command, info_name=name, parent=root) as ctx:
                parts += [f"## dataaudit {name}", "", "```text", command.get_help(ctx).rstrip(), "```", "",
                          "| option | meaning |", "|---|---|"]
                for param in command.get_params(ctx):
                    if isinstance(param, click.Argument):
                        names, text = param.human_readable_name, getattr(param, "help", "") or ""
                    else:
                        names, text = ", ".join(param.opts), param.help or ""
                    parts.append(f"| `{names}` | {text.replace('|', '&#124;')} |")
                parts.append("")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, _reference())
    return markdown
