"""Deleting a registered model nothing uses yet (a typo, a wrong endpoint): everything that uses one protects it."""

from __future__ import annotations

from collections import Counter

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError

from generation.models import ModelSpec


def _describe(objects) -> str:
    """'2 generation runs, 1 training run'."""
    by_kind = Counter(type(obj)._meta for obj in objects)
    return ", ".join(f"{n} {meta.verbose_name if n == 1 else meta.verbose_name_plural}" for meta, n in by_kind.items())


def model_deletion_refusal(model: ModelSpec) -> str | None:
    """Why the model cannot be deleted (what uses it), or None. Asked by the confirmation page before any POST."""
    from django.contrib.admin.utils import NestedObjects

    collector = NestedObjects(using="default")
    collector.collect([model])
    if collector.protected:
        return f"it is used by {_describe(collector.protected)}; delete or keep those first."
    return None


def delete_unused_model(*, model_id: int) -> None:
    """Delete a model no generation run, training run, checkpoint or LLM judge refers to; ValidationError naming
    what uses it otherwise (the database's PROTECT constraints decide, so a run created meanwhile still wins)."""
    with transaction.atomic():
        model = ModelSpec.objects.select_for_update().get(pk=model_id)
        try:
            model.delete()
        except (ProtectedError, RestrictedError) as exc:
            objects = list(getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", None) or [])
            raise ValidationError(f"{model.name} is used by {_describe(objects)}; delete or keep those first.") from None
