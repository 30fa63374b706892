"""The rows every installation starts with: the role groups and the Table 1 quotas (idempotent)."""

from annotation import paper

ROLE_GROUPS = ("author", "annotator", "researcher")


def ensure_defaults(*, group_model, quota_model) -> None:
    """Create what is missing; takes the models so the data migration can pass its historical ones."""
    for role in ROLE_GROUPS:
        group_model.objects.get_or_create(name=role)
    for row in paper.TABLE_1:
        quota_model.objects.get_or_create(split=row.split, source=row.source, flag="", defaults={"target": row.examples})
    quota_model.objects.get_or_create(split=paper.TRAIN, source="", flag="refusal", defaults={"target": paper.REFUSAL_TARGET})
    quota_model.objects.get_or_create(split=paper.TRAIN, source="", flag="multi_turn", defaults={"target": paper.MULTI_TURN_TARGET})
