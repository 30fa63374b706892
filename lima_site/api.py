"""The REST API's shared pieces: role-based permission (the same capability table as the UI)."""

from rest_framework.permissions import BasePermission

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
