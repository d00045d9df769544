"""Money is integer fen. These helpers only format it; they never compute with floats."""

from fractions import Fraction


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
