"""The REST API's shared pieces: role-based permission (the same capability table as the UI), and the
exception handler that answers the services' Django exceptions (settings.REST_FRAMEWORK["EXCEPTION_HANDLER"])."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.views import exception_handler as drf_exception_handler

from lima_site.conflicts import Conflict
from lima_site.roles import CAPABILITIES, can


def capability_permission(capability: str) -> type[BasePermission]:
    if capability not in CAPABILITIES:
        raise KeyError(capability)

    class HasCapability(BasePermission):
        message = f"needs the {capability} capability"

        def has_permission(self, request, view):
            return can(request.user, capability)

    HasCapability.capability = capability  # read by the access-matrix test
    HasCapability.__name__ = f"Has_{capability}"
    return HasCapability


class ConflictAnswer(exceptions.APIException):
    """409: the object's state refuses the action (a service's lima_site.conflicts.Conflict, with its message)."""

    status_code = 409


def exception_handler(exc, context):
    """DRF's handler, which also turns the services' Django exceptions into answers, so views just call them.

    ValidationError -> 400: {field: [messages]} when it names fields, else {"detail": [messages]}; a view
    whose clients read every message under "detail" sets `validation_errors_as_detail = True`.
    PermissionDenied -> 403 with its message as the detail (DRF's generic one when it has none).
    Conflict (lima_site.conflicts) -> 409 with its message as the detail.
    """
    if isinstance(exc, DjangoValidationError):
        as_detail = getattr(context.get("view"), "validation_errors_as_detail", False)
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") and not as_detail else {"detail": exc.messages})
    elif isinstance(exc, DjangoPermissionDenied) and str(exc):
        exc = exceptions.PermissionDenied(str(exc))
    elif isinstance(exc, Conflict):
        exc = ConflictAnswer(str(exc))
    return drf_exception_handler(exc, context)
