"""Merge conflict markers left in a file: where they are.

A conflict `update` leaves inline (`<<<<<<< before updating` ... `>>>>>>> after updating`)
is meant to be resolved before the owners commit. Committed by mistake, the file looks
"edited" to anything that only compares bytes; these lines say what it really is.
"""

from __future__ import annotations

_OPENING = b"<<<<<<< "
_CLOSING = b">>>>>>> "


def marker_lines(data: bytes) -> list[int]:
    """The 1-based lines that open or close a conflict (`<<<<<<< `, `>>>>>>> `)."""
    return [
        number
        for number, line in enumerate(data.split(b"\n"), 1)
        if line.startswith(_OPENING) or line.startswith(_CLOSING)
    ]
