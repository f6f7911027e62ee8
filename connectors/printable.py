"""Names and cell values as a terminal or an artifact may show them.

A file name or a cell comes from the sender: it may hold control characters (a name that
clears the screen), Rich markup (`[draft]` vanishes, `[/x]` raises MarkupError) or Markdown
(`|` splits a table row). Everything shown goes through one of these.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi overrides.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# What could break a table cell or inject a link, an image, HTML or a code span. Emphasis
# characters stay: `张**` is how a masked name reads.
_MARKDOWN = re.compile(r"([\\`\[\]<>|])")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """Control characters as visible escapes (`\\n`, `\\x1b`); a backslash stays itself."""
    s = str(text)
    if not _CONTROL.search(s):
        return s
    s = s.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return _CONTROL.sub(_visible, s)


def for_console(text: object) -> str:
    """Printable and Rich-markup escaped: shown exactly as it is named."""
    from rich.markup import escape

    return escape(printable(text))


def for_markdown(text: object) -> str:
    """Printable and Markdown escaped, on one line (a table cell)."""
    return _MARKDOWN.sub(r"\\\1", printable(text))
