"""Diagnostics as text, in the layout of a good compiler:

    contracts/health.earmark:9:43: error[E0203]: cannot compare KZT with USD
        |
      9 |   allow purchase when amount <= 200_000 USD
        |                                 ^^^^^^^^^^^ this is USD; the token HEALTH is KZT
        = help: convert explicitly with an FX rule
"""

from __future__ import annotations

from dsl.errors import Diagnostic

_GUTTER_MIN = 3


def render(diagnostic: Diagnostic, text: str, path: str) -> str:
    """One diagnostic as a block of lines (no trailing newline)."""
    span = diagnostic.span
    code = diagnostic.code
    head = f"{path}:{span.line}:{span.column}: {code.severity.value}[{code.code}]: "
    lines = [head + diagnostic.message]
    source_lines = text.split("\n")
    if 1 <= span.line <= len(source_lines):
        width = max(_GUTTER_MIN, len(str(span.line)) + 1)
        source = source_lines[span.line - 1].rstrip("\r")
        end = span.end_column if span.end_line == span.line else len(source) + 1
        carets = "^" * max(1, end - span.column)
        underline = " " * (span.column - 1) + carets
        if diagnostic.label:
            underline += " " + diagnostic.label
        lines += [
            f"{'':>{width}} |",
            f"{span.line:>{width}} | {source}",
            f"{'':>{width}} | {underline}",
        ]
        if diagnostic.help:
            lines.append(f"{'':>{width}} = help: {diagnostic.help}")
    elif diagnostic.help:
        lines.append(f"  = help: {diagnostic.help}")
    return "\n".join(lines)


def render_all(diagnostics: tuple[Diagnostic, ...], text: str, path: str) -> str:
    """Several diagnostics, separated by blank lines."""
    return "\n\n".join(render(d, text, path) for d in diagnostics)
