"""The incremental decoding of scoring bodies: the same value as ``json.loads`` for any JSON, the
same 422 for what is not JSON, and validation errors located at the row's index in the whole list."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter

from aedetect.api.bodies import VALIDATE_ROWS, decode_body, validate_rows


@pytest.mark.parametrize(
    "text",
    [
        '{"input_data": [{"a": 1}, {"a": 2.5, "b": "x"}], "type": "decoder"}',
        ' {\n "type" : null ,\t"input_data":[ ]}\n',
        '{"input_data": {"a": 1}}',
        '{"input_data": [1, [2, {"c": "]"}], "s,t"], "input_data": [3]}',
        '{"input_data": [NaN, Infinity, -1e400]}',
        "{}",
        "[1, 2]",
        '"text"',
        "null",
        '{"other": [{"input_data": [1]}]}',
        '{"input_data": ["\\u00e9\\ud55c", "한국어"]}',
    ],
)
def test_decoding_gives_what_json_loads_gives(text: str) -> None:
    expected = json.loads(text)
    decoded = decode_body(text.encode(), "input_data")
    assert json.dumps(decoded) == json.dumps(expected)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ('{"input_data": [1, 2', 20),
        ('{"input_data": [1 2]}', 18),
        ('{"input_data": [1,]}', 18),
        ('{"input_data": [1]} x', 20),
        ("{'a': 1}", 1),
    ],
)
def test_what_is_not_json_is_json_invalid_at_its_position(text: str, position: int) -> None:
    with pytest.raises(RequestValidationError) as caught:
        decode_body(text.encode(), "input_data")
    (error,) = caught.value.errors()
    assert (error["type"], error["loc"]) == ("json_invalid", ("body", position))
    assert error["ctx"]["error"]  # what the decoder found, e.g. "Expecting value"


def test_empty_body_is_missing_and_other_encodings_are_invalid() -> None:
    with pytest.raises(RequestValidationError) as caught:
        decode_body(b"  \n", "input_data")
    assert caught.value.errors()[0]["type"] == "missing"
    with pytest.raises(RequestValidationError) as caught:
        decode_body('{"input_data": ["é"]}'.encode("latin-1"), "input_data")
    assert "not UTF-8" in caught.value.errors()[0]["ctx"]["error"]


def test_validation_errors_name_the_row_in_the_whole_list_and_rows_are_consumed() -> None:
    rows: list[Any] = [{"a": i} for i in range(VALIDATE_ROWS * 2 + 5)]
    rows[VALIDATE_ROWS + 7] = {"a": [1]}
    adapter = TypeAdapter(list[dict[str, int | str]])
    with pytest.raises(RequestValidationError) as caught:
        validate_rows(list(rows), adapter, "input_data")
    locations = {error["loc"][:3] for error in caught.value.errors()}
    assert locations == {("input_data", VALIDATE_ROWS + 7, "a")}

    good = [{"a": i} for i in range(VALIDATE_ROWS + 3)]
    owned = list(good)
    assert validate_rows(owned, adapter, "input_data") == good
    assert owned == []
