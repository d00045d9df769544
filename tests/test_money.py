"""Money is formatted and parsed exactly, never through a float (issue 13)."""

from fractions import Fraction

import pytest

from mutual.core.errors import ServiceError
from mutual.core.money import format_exact_yuan, format_percent_bp, format_yuan, parse_yuan


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


@pytest.mark.parametrize(
    "fen, text",
    [(16_733_332, "167,333.32"), (Fraction(1, 3), "0.00333333"),
     (Fraction(1572400, 100000), "0.15724"), (0, "0.00"), (-150, "-1.50"),
     (Fraction(-1, 10**9), "0.00")],
)  # fmt: skip
def test_format_exact_yuan(fen, text):
    assert format_exact_yuan(fen) == text


@pytest.mark.parametrize(("text", "fen"), [("300,000.00", 30_000_000), ("1,000", 100_000)])
def test_parse_yuan_reads_the_separators_format_yuan_writes(text, fen):
    assert parse_yuan(text, field="amount_yuan") == fen


@pytest.mark.parametrize("text", ["12,5", "1,00.00", ",100"])
def test_parse_yuan_refuses_commas_that_are_not_thousands(text):
    with pytest.raises(ServiceError):
        parse_yuan(text, field="amount_yuan")
