"""Backups: export everything, restore into an empty database, and find every row again."""

import pytest
from django.apps import apps
from django.core.management import call_command

from annotation.evaluation.services import judging
from tests.builders import pairwise_study

pytestmark = pytest.mark.django_db(transaction=True)

MODELS = ["auth.User", "auth.Group", "annotation.Example", "annotation.Turn", "annotation.ExampleRevision", "annotation.Quota",
          "datasets.Dataset", "datasets.DatasetRow", "evaluation.Study", "evaluation.ComparisonItem", "evaluation.Assignment",
          "evaluation.Judgment", "generation.ModelSpec", "generation.GenerationRun", "generation.Response"]


NATURAL_KEYS = {"auth.User": "username", "auth.Group": "name"}  # restored by natural key, so their ids may change


def snapshot():
    return {name: sorted(map(str, apps.get_model(name).objects.values_list(NATURAL_KEYS.get(name, "pk"), flat=True))) for name in MODELS}


def test_export_all_then_restore_into_an_empty_database_keeps_every_row(tmp_path, researcher, make_user):
    crowd = [make_user("annotator", username=f"crowd{i}") for i in range(2)]
    study = pairwise_study(researcher=researcher, annotators=crowd, prompts=4, agreement_subset=2, one_prompt_per_annotator=False)
    for annotator in crowd:
        while (assignment := judging.current_assignment(study=study, annotator=annotator)) is not None:
            judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator, side="a", reason="ok")
    before = snapshot()
    verdicts = sorted(apps.get_model("evaluation.Judgment").objects.values_list("item__public_id", "annotator__username", "verdict", "side"))
    assert len(verdicts) == 2 * 2 + 6
    export = tmp_path / "lima-backup.json.gz"
    call_command("export_all", str(export))

    call_command("flush", interactive=False, verbosity=0)
    assert not apps.get_model("evaluation.Judgment").objects.exists()
    call_command("restore_all", str(export))

    assert snapshot() == before
    after = sorted(apps.get_model("evaluation.Judgment").objects.values_list("item__public_id", "annotator__username", "verdict", "side"))
    assert after == verdicts


def test_restore_refuses_a_database_that_is_not_empty(tmp_path, researcher):
    from django.core.management.base import CommandError

    export = tmp_path / "backup.json"
    call_command("export_all", str(export))
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore_all", str(export))
