"""Money is formatted and parsed exactly, never through a float (issue 13)."""

import pytest

from mutual.core.errors import ServiceError
from mutual.core.money import format_percent_bp, format_yuan, parse_yuan


@pytest.mark.parametrize(
    "fen, text", [(30_000_000, "300,000.00"), (1, "0.01"), (-150, "-1.50"), (None, "—")]
)
def test_format_yuan(fen, text):
    assert format_yuan(fen) == text


@pytest.mark.parametrize(
    "bp, text", [(800, "8%"), (850, "8.5%"), (805, "8.05%"), (5, "0.05%"), (0, "0%"), (1000, "10%")]
)
def test_format_percent_bp(bp, text):
    assert format_percent_bp(bp) == text


@pytest.mark.parametrize(
    "text, fen", [("300000.00", 30_000_000), (" 0.1 ", 10), ("12", 1200), ("", None)]
)
def test_parse_yuan(text, fen):
    assert parse_yuan(text, field="amount") == fen


@pytest.mark.parametrize("text", ["12.345", "abc", "NaN", "Infinity", "1e30", "9" * 40])
def test_parse_yuan_refuses_with_the_field(text):
    with pytest.raises(ServiceError) as error:
        parse_yuan(text, field="amount_yuan")
    assert error.value.field == "amount_yuan"
