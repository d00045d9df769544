"""Money is integer fen. These helpers format and parse it exactly: never through a float."""

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from mutual.core.errors import ServiceError


def format_yuan(fen: int | None) -> str:
    """30000000 -> '300,000.00'; negative amounts keep their sign."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{yuan:,}.{cents:02d}"


def format_exact_fen(fen: Fraction) -> str:
    """An exact amount of fen to a millionth, rounded half up: Fraction(1, 3) -> '0.333333'."""
    millionths = (abs(fen) * 10**6 * 2 + 1) // 2
    whole, part = divmod(int(millionths), 10**6)
    return f"{'-' if fen < 0 and millionths else ''}{whole:,}.{part:06d}"


def format_exact_yuan(fen: Fraction | Decimal | int) -> str:
    """An exact amount of fen as yuan, for people: separators, two decimals when it is whole
    fen, and the fraction of a fen only when there is one, to a millionth of a fen, rounded
    half up, with no run of zeros: 16733332 -> '167,333.32'; Fraction(1, 3) -> '0.00333333'."""
    fen = Fraction(fen)
    millionths = (abs(fen) * 10**6 * 2 + 1) // 2  # of a fen
    yuan, rest = divmod(int(millionths), 10**8)
    digits = f"{rest:08d}".rstrip("0").ljust(2, "0")
    return f"{'-' if fen < 0 and millionths else ''}{yuan:,}.{digits}"


def format_percent_bp(basis_points: int) -> str:
    """A rate in basis points as a percentage: 800 -> '8%', 850 -> '8.5%', 5 -> '0.05%'."""
    whole, part = divmod(abs(int(basis_points)), 100)
    sign = "-" if basis_points < 0 else ""
    return f"{sign}{whole}{f'.{part:02d}'.rstrip('0') if part else ''}%"


# Yuan as people type them: at most this many characters, and less than this many yuan (far
# above any cover), so that no input reaches Decimal arithmetic that could overflow or trap.
_YUAN_MAX_CHARS = 32
_YUAN_MAX = Decimal(10) ** 10
_THOUSANDS = re.compile(r"\d{1,3}(,\d{3})+(\.\d+)?")


def parse_yuan(raw: str, *, field: str) -> int | None:
    """Yuan typed in a form ('300000.00') to integer fen, exactly; None for an empty input.
    Raises ServiceError naming `field` for anything else than a number with two decimals."""
    text = raw.strip()
    if not text:
        return None
    if _THOUSANDS.fullmatch(text):  # "300,000.00", as format_yuan writes it; "12,5" is refused
        text = text.replace(",", "")
    not_a_number = ServiceError("amount must be a number of yuan, like 300000.00", field=field)
    if len(text) > _YUAN_MAX_CHARS:
        raise not_a_number
    try:
        yuan = Decimal(text)
    except InvalidOperation:
        raise not_a_number from None
    if not yuan.is_finite():  # Infinity, NaN, sNaN: every comparison with them traps or lies
        raise not_a_number
    if abs(yuan) >= _YUAN_MAX:
        raise ServiceError("amount is too large", field=field)
    if yuan != yuan.quantize(Decimal("0.01")):
        raise ServiceError("amount has more than two decimals", field=field)
    return int(yuan * 100)
