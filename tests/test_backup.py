"""Backups: export everything, restore into an empty database, and find every row again."""

import json

import pytest
from django.apps import apps
from django.core.management import call_command

from annotation.evaluation.services import judging
from tests.builders import pairwise_study
from tests.world import build_world

pytestmark = pytest.mark.django_db(transaction=True)

# Every app whose rows a backup must hold: the export's apps, and any app of the project that gains models later.
BACKED_UP_APPS = ("auth", "authtoken", "annotation", "datasets", "generation", "evaluation", "training", "orchestration")


def _natural(model, pk):
    """Users and groups are restored by natural key (their ids may change); every other row keeps its id."""
    if model is None or pk is None:
        return pk
    if model._meta.label == "auth.User":
        return model.objects.filter(pk=pk).values_list("username", flat=True).first()
    if model._meta.label == "auth.Group":
        return model.objects.filter(pk=pk).values_list("name", flat=True).first()
    if model._meta.label == "auth.Permission":
        return model.objects.filter(pk=pk).values_list("content_type__app_label", "content_type__model", "codename").first()
    return pk


def content_of_every_row() -> dict[str, list[str]]:
    """Every field of every row of every backed-up model (foreign keys and many-to-many by natural key), as text."""
    snapshot = {}
    for config in apps.get_app_configs():
        if config.label not in BACKED_UP_APPS:
            continue
        for model in config.get_models():
            if model._meta.label == "auth.Permission":
                continue  # made by migrate from the models, not data
            natural_pk = model._meta.label in ("auth.User", "auth.Group")
            rows = []
            for row in model.objects.all():
                values = {}
                for field in model._meta.concrete_fields:
                    if field.primary_key and natural_pk:
                        continue
                    value = getattr(row, field.attname)
                    values[field.name] = _natural(field.related_model, value) if field.is_relation else value
                for field in model._meta.many_to_many:
                    values[field.name] = sorted(map(str, (_natural(field.related_model, pk) for pk in
                                                          getattr(row, field.name).values_list("pk", flat=True))))
                rows.append(json.dumps(values, sort_keys=True, default=str))
            snapshot[model._meta.label] = sorted(rows)
    return snapshot


def test_export_all_then_restore_into_an_empty_database_keeps_every_row_and_every_field(
        tmp_path, settings, make_user, author, annotator, researcher, tiny_model):
    settings.LIMA_TRAINING_DIR = tmp_path / "training"
    build_world(make_user=make_user, author=author, annotator=annotator, researcher=researcher, tmp_path=tmp_path)
    crowd = [make_user("annotator", username=f"crowd{i}") for i in range(2)]
    study = pairwise_study(researcher=researcher, annotators=crowd, prompts=4, agreement_subset=2, one_prompt_per_annotator=False)
    for member in crowd:
        while (assignment := judging.current_assignment(study=study, annotator=member)) is not None:
            judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=member, side="a", reason="ok")
    before = content_of_every_row()
    kinds = {label for label, rows in before.items() if rows}
    assert {"annotation.Example", "annotation.ImportJob", "evaluation.Judgment", "evaluation.ExternalJudgment",
            "training.TrainingRun", "training.Checkpoint", "generation.Response", "datasets.DatasetRow",
            "evaluation.Conversation", "evaluation.TurnRating", "orchestration.Experiment", "orchestration.Variant"} <= kinds, kinds
    export = tmp_path / "lima-backup.json.gz"
    call_command("export_all", str(export))

    call_command("flush", interactive=False, verbosity=0)
    assert not apps.get_model("evaluation.Judgment").objects.exists()
    call_command("restore_all", str(export))

    after = content_of_every_row()
    differing = {label: sorted(set(before[label]) ^ set(after.get(label, [])))[:2] for label in before
                 if after.get(label) != before[label]}
    assert not differing, f"rows that differ after the round trip (first two per model): {differing}"


def test_restore_refuses_a_database_that_is_not_empty(tmp_path, researcher):
    from django.core.management.base import CommandError

    export = tmp_path / "backup.json"
    call_command("export_all", str(export))
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore_all", str(export))
