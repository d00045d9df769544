"""The API's query parameters: a filter value that cannot be read is a 400, never ignored.

django-filter's boolean filter maps anything but true/false/1/0 to "no filter", so
`?accepting_members=Z` listed every plan. Here such a value reaches the form field, which
refuses it, and DjangoFilterBackend answers the invalid filterset with a 400."""

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from django_filters.widgets import BooleanWidget
from rest_framework.pagination import PageNumberPagination

_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


class StrictBooleanWidget(BooleanWidget):
    """Like django-filter's, but an unknown value is passed on as it is (for the field to refuse)
    instead of becoming "no filter"."""

    def value_from_datadict(self, data, files, name):
        value = data.get(name)
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        return value


class StrictBooleanField(forms.NullBooleanField):
    widget = StrictBooleanWidget

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        raise ValidationError(_("Enter true or false."), code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", StrictBooleanWidget)  # DRF's BooleanFilter sets its own
        super().__init__(*args, **kwargs)


class IdFilter(filters.NumberFilter):
    """A related object by its id: a whole number, or a 400. An id that names nothing matches
    nothing (an empty page), as any other filter value that matches no row."""

    field_class = forms.IntegerField


class FilterSet(filters.FilterSet):
    FILTER_DEFAULTS = {
        **filters.FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": StrictBooleanFilter},
        models.NullBooleanField: {"filter_class": StrictBooleanFilter},
        models.ForeignKey: {"filter_class": IdFilter},
    }

    def is_valid(self):
        """A filter given with no value (`?state=`) is refused too: the schema does not allow
        empty values, and a client that sends one meant something it did not say."""
        valid = super().is_valid()
        getlist = getattr(self.data, "getlist", None)
        for name in self.filters if getlist else []:
            if "" in getlist(name):
                self.form.add_error(name, forms.ValidationError(_("Give a value or leave it out.")))
                valid = False
        return valid


class FilterBackend(filters.DjangoFilterBackend):
    """DjangoFilterBackend (it answers an invalid filterset with a 400) building the views'
    `filterset_fields` on the strict FilterSet above."""

    filterset_base = FilterSet


class Pagination(PageNumberPagination):
    """DRF's page numbers, except that `?page=` (empty) is an invalid page like `?page=abc`
    (404 "Invalid page."), not the first page."""

    def get_page_number(self, request, paginator):
        if request.query_params.get(self.page_query_param) == "":
            return ""
        return super().get_page_number(request, paginator)
