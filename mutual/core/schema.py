"""The OpenAPI schema documents the API's error answers, not only its successes.

Every error body is the one `mutual.core.api.exception_handler` (or DRF under it) produces: a
`detail` message, or field messages by field name, plus a `code` naming the rule when a
service refused. Which statuses an operation can answer follows from the view itself: its
request body, filters, path parameters, permissions and throttles."""

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import permissions, serializers

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class ErrorOutput(serializers.Serializer):
    """An error: `detail`, or messages by field name (`non_field_errors` for the whole input),
    with `code` naming the rule that refused it."""

    detail = serializers.CharField(required=False, help_text="What went wrong.")
    code = serializers.CharField(required=False, help_text="The rule that refused the request.")


class ErrorOutputExtension(OpenApiSerializerExtension):
    """Field messages are keyed by the input's field names: additional properties."""

    target_class = ErrorOutput

    def get_name(self, auto_schema, direction):
        return "Error"

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target_class, direction, bypass_extensions=True)
        schema["additionalProperties"] = {
            "type": "array",
            "items": {"type": "string"},
            "description": "The messages for one input field.",
        }
        return schema


ERRORS = {
    "400": "Bad input: messages by field (or `detail`), and the `code` of the rule refused.",
    "401": "No login, or a token or session that is not valid.",
    "403": "This login may not do this (no member profile, or a CSRF failure on a session).",
    "404": "No such object among yours (another member's object answers 404), or no such page.",
    "409": "The object's current state does not allow this action.",
    "413": "The request body is larger than the limit: refused before it is read.",
    "415": "The request body's content type is not one this operation reads.",
    "429": "Too many requests: wait and retry.",
}


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema plus the error statuses each operation can answer."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self.error_statuses():
            if code not in responses:
                response = self._get_response_for_code(ErrorOutput, code, direction=direction)
                responses[code] = {**response, "description": ERRORS[code]}
        return dict(sorted(responses.items()))

    def error_statuses(self) -> list[str]:
        has_body = self.method in {"POST", "PUT", "PATCH"}
        has_path_parameters = "{" in self.path
        codes = {"401"}  # any request carrying a bad token or session, public ones included
        if has_body or self._has_filters() or getattr(self.view, "validates_query", False):
            codes.add("400")  # a bad body, filter or query parameter
        if has_body:
            codes.update({"413", "415"})
        if self.method in _UNSAFE or not self._is_public():
            codes.add("403")
        if has_path_parameters or (self.method == "GET" and self._is_list_view()):
            codes.add("404")  # a detail path, or a page number past the last page
        if self.method in _UNSAFE and has_path_parameters:
            codes.add("409")  # an action on one object: its state may forbid it
        if self._is_throttled():
            codes.add("429")
        return sorted(codes)

    def _is_public(self) -> bool:
        checks = getattr(self.view, "permission_classes", [])
        return all(issubclass(check, permissions.AllowAny) for check in checks)

    def _has_filters(self) -> bool:
        if self.method != "GET" or not self._is_list_view():
            return False
        return bool(
            getattr(self.view, "filterset_fields", None)
            or getattr(self.view, "filterset_class", None)
        )

    def _is_throttled(self) -> bool:
        if not getattr(self.view, "throttle_scope", None):
            return False
        try:
            return bool(self.view.get_throttles())
        except Exception:  # a view whose throttles need a real request: assume throttled
            return True
