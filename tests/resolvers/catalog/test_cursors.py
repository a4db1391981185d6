from __future__ import annotations

import datetime
import uuid

import pytest

from infra.errors import BadUserInput
from resolvers.catalog.cursors import Cursor, decode_cursor, encode_cursor, parse_cursor_value


def test_cursor_round_trip() -> None:
    moment = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)
    item_id = uuid.UUID("01900000-0000-7000-8000-000000000001")
    text = encode_cursor(Cursor("date_added", "desc", (moment, item_id)))

    cursor = decode_cursor(text, "date_added", "desc", 2)

    assert cursor.values == (moment.isoformat(), str(item_id))
    assert parse_cursor_value(cursor.values[0], "timestamptz") == moment
    assert parse_cursor_value(cursor.values[1], "uuid") == item_id
    assert "=" not in text


def test_random_cursor_carries_its_seed() -> None:
    text = encode_cursor(Cursor("random", "asc", ("abc", "id"), seed="0123456789abcdef"))

    assert decode_cursor(text, "random", "asc", 2).seed == "0123456789abcdef"


@pytest.mark.parametrize(
    ("value", "sql_type"),
    [
        ("yesterday", "timestamptz"),
        ("2026-01-01T00:00:00", "timestamptz"),  # naive
        ("not-a-uuid", "uuid"),
        ("12", "int"),
        (2**40, "int"),
        (True, "int"),
        ("true", "bool"),
        ("2026-13-01", "date"),
        (3, "text"),
    ],
)
def test_cursor_values_of_the_wrong_type_are_bad_input(value: object, sql_type: str) -> None:
    with pytest.raises(BadUserInput):
        parse_cursor_value(value, sql_type)
