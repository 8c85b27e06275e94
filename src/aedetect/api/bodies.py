"""JSON bodies of scoring requests decoded and validated a little at a time.

Decoding a 40 MB body in one call (``json.loads``, pydantic's ``model_validate_json``) holds the
interpreter lock for seconds, and while it does the event loop cannot answer anything, even from
another thread. Here, in a body over :data:`WHOLE_CHARS`, the long list of rows (``input_data``
in v1, ``rows`` in v2) is decoded one row at a time (the standard library's C decoder, so a single
row costs microseconds) and validated :data:`VALIDATE_ROWS` rows at a time, which lets the lock
change hands between them. Any other body is decoded whole as before. A body that is not JSON,
or rows of the wrong shape, get the same 422 as a body FastAPI decodes, located at the row's index
in the whole list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json.scanner import make_scanner
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

VALIDATE_ROWS = 1000
"""Rows validated in one call."""

WHOLE_CHARS = 1024 * 1024
"""Bodies up to this size are decoded in one call (a few milliseconds), larger ones row by row."""

INLINE_ROWS = 64
"""Scoring requests (v1 and v2) with up to this many rows are scored on the event loop (about a
millisecond); larger ones in the scoring pool."""

INLINE_BYTES = 64 * 1024
"""Scoring bodies up to this size are parsed on the event loop (well under a millisecond); larger
ones in the scoring pool."""

_SPACES = " \t\n\r"
_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()  # the same rules as json.loads, which FastAPI uses
# raw_decode without its wrapper (the C scanner where there is one); typeshed types it as a class
_SCAN: Callable[[str, int], tuple[Any, int]] = make_scanner(_DECODER)  # type: ignore[arg-type]


def decode_body(raw: bytes, rows_key: str) -> Any:
    """The JSON value of ``raw``. An empty body is a missing one; a body that is not JSON is a
    422 ``json_invalid`` error as FastAPI gives it."""
    if not raw.strip():
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    try:
        text = raw.decode("utf-8")
        if len(text) <= WHOLE_CHARS:
            return json.loads(text)
        try:
            return _object_with_rows(text, rows_key)
        except (ValueError, IndexError):  # not the plain object shape: the whole decoder says why
            return json.loads(text)
    except UnicodeDecodeError as exc:
        error, position = f"the body is not UTF-8 ({exc.reason})", exc.start
    except json.JSONDecodeError as exc:
        error, position = exc.msg, exc.pos
    except ValueError as exc:  # a number Python will not convert (over 4300 digits)
        error, position = str(exc), 0
    raise RequestValidationError(
        [
            {
                "type": "json_invalid",
                "loc": ("body", position),
                "msg": "JSON decode error",
                "ctx": {"error": error},
            }
        ]
    )


def validate_rows(rows: list[Any], adapter: TypeAdapter[list[Any]], key: str) -> list[Any]:
    """``rows`` validated by ``adapter`` :data:`VALIDATE_ROWS` at a time; the first failing
    batch's errors are a 422 located at ``key[<index in rows>]``.

    ``rows`` is emptied as it goes, so the decoded rows are freed a batch at a time (freeing
    200,000 of them at once holds the interpreter lock for a third of a second)."""
    checked: list[Any] = []
    start = 0
    while rows:
        batch = rows[:VALIDATE_ROWS]
        del rows[:VALIDATE_ROWS]
        try:
            checked.extend(adapter.validate_python(batch))
        except ValidationError as exc:
            errors = [{**e, "loc": (key, *_shifted(e["loc"], start))} for e in exc.errors(include_url=False)]
            raise RequestValidationError(errors) from None
        start += len(batch)
    return checked


def _shifted(loc: tuple[int | str, ...], by: int) -> tuple[int | str, ...]:
    """An error location within a batch, as a location within the whole list."""
    if loc and isinstance(loc[0], int):
        return (loc[0] + by, *loc[1:])
    return loc


def _skip(text: str, at: int) -> int:
    found = _SPACE.match(text, at)
    return at if found is None else found.end()


def _object_with_rows(text: str, rows_key: str) -> Any:
    """Decode a JSON object member by member, the ``rows_key`` list item by item; ``ValueError``
    (or ``IndexError``) where the text is not such an object."""
    at = _skip(text, 0)
    if text[at] != "{":
        raise ValueError("not an object")
    value: dict[str, Any] = {}
    at = _skip(text, at + 1)
    if text[at] == "}":
        return _end(text, at + 1, value)
    while True:
        name, at = _DECODER.raw_decode(text, at)
        if not isinstance(name, str):
            raise ValueError("a member name is not a string")
        at = _skip(text, at)
        if text[at] != ":":
            raise ValueError("':' expected")
        at = _skip(text, at + 1)
        if name == rows_key and text[at] == "[":
            value[name], at = _list(text, at)
        else:
            value[name], at = _DECODER.raw_decode(text, at)
        at = _skip(text, at)
        if text[at] == "}":
            return _end(text, at + 1, value)
        if text[at] != ",":
            raise ValueError("',' or '}' expected")
        at = _skip(text, at + 1)


def _list(text: str, at: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    at = _skip(text, at + 1)
    if text[at] == "]":
        return items, at + 1
    while True:
        try:
            item, at = _SCAN(text, at)
        except StopIteration:
            raise ValueError("a value expected") from None
        items.append(item)
        if text[at] in _SPACES:
            at = _skip(text, at)
        if text[at] == "]":
            return items, at + 1
        if text[at] != ",":
            raise ValueError("',' or ']' expected")
        at += 1
        if text[at] in _SPACES:
            at = _skip(text, at)


def _end(text: str, at: int, value: dict[str, Any]) -> dict[str, Any]:
    if _skip(text, at) != len(text):
        raise ValueError("text after the object")
    return value
