"""Money is integer fen. These helpers only format it; they never compute with floats."""


def format_yuan(fen: int | None) -> str:
    """30000000 -> '300,000.00'; negative amounts keep their sign."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{yuan:,}.{cents:02d}"
