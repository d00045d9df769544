"""Errors that services raise for bad requests; callers turn them into a 400, an admin message, or
a command's exit status. `field` names the input at fault, `code` the rule that failed."""


class ServiceError(Exception):
    def __init__(self, message: str, *, code: str = "invalid", field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field

    def as_dict(self) -> dict[str, list[str]]:
        return {self.field or "non_field_errors": [self.message]}


class InvariantError(Exception):
    """A rule of the books is broken (an unbalanced posting, a period that does not reconcile,
    a case with no sharers): a bug or tampering, never the caller's mistake. Not a 4xx."""
