"""Request parsers for the API: JSON that cannot blow the stack."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Far deeper than any payload of ours (the deepest is an object holding a list), far shallower
# than Python's recursion limit, so that nothing after parsing can recurse into trouble either.
MAX_JSON_DEPTH = 32


def _deeper_than(data, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` levels (iteratively: no recursion)."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, except that deep nesting is a 400 (ParseError), not a RecursionError
    and a 500: the decoder recurses once per level, so `[[[[...` exhausts the stack."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply") from None
        if _deeper_than(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
        return data
