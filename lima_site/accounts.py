"""API tokens for a user's own scripts (DRF's TokenAuthentication): one per user, rotated or revoked by its owner."""

from __future__ import annotations

from django.db import transaction
from rest_framework.authtoken.models import Token


def current_token(user) -> Token | None:
    return Token.objects.filter(user=user).first()


def issue_token(user, *, rotate: bool = False) -> Token:
    """The user's token, created if missing; `rotate` replaces it, so the old key stops working at once.
    Idempotent for a double-click on "Create": a second create returns the same token."""
    with transaction.atomic():
        if rotate:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
    return token


def revoke_token(user) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
