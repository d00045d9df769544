"""Serializer fields that take only the JSON type the schema documents: DRF's own would turn
a number into text and "off" into false, accepting what the OpenAPI schema says is invalid."""

from rest_framework import serializers


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictCharField(serializers.CharField):
    """A JSON string only."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
