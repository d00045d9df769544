"""The two kinds of error a service raises, which never share a type.

ServiceError: the request is refused by a rule (the caller's mistake or the object's
situation); callers translate it into a 400 with the field and the code, an admin message, or
a command's exit status. `field` names the input at fault, `code` the rule that failed.

InvariantError: a rule of the books is broken (a bug or tampering). Nobody catches it to
show it as a refusal: the API and the admin answer 500 and Django logs it as an error (the
alert); a Celery run that meets it is marked failed and logged as an error."""


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
