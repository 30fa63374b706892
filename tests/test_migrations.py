"""Data migrations, run against rows written as the code before them wrote them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from annotation.evaluation.models import Assignment
from annotation.evaluation.selectors import AnnotatorProgress, annotator_progress
from annotation.evaluation.services import judging
from tests.builders import pairwise_study

BEFORE, AFTER = ("evaluation", "0006_item_open_rows_index"), ("evaluation", "0007_claim_rows_and_progress_indexes")


def _migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.mark.django_db(transaction=True)
def test_0007_names_the_study_of_assignments_made_before_every_assignment_did(researcher, make_user):
    """Assignments claimed before the study column was set on all of them (it was only set in one-prompt studies)
    count in the annotator's progress after the migration, which reads progress from assignments alone."""
    annotator = make_user("annotator")
    study = pairwise_study(researcher=researcher, annotators=[annotator], prompts=4, agreement_subset=0,
                           one_prompt_per_annotator=False)
    for _ in range(3):
        assignment = judging.current_assignment(study=study, annotator=annotator)
        judging.record_judgment(study=study, item_public_id=assignment.item.public_id, annotator=annotator, side="a")
    judging.current_assignment(study=study, annotator=annotator)
    _migrate(BEFORE)
    try:
        with connection.cursor() as cursor:  # as the code before 0007 left them: no study outside one-prompt studies
            cursor.execute("UPDATE evaluation_assignment SET study_id = NULL")
    finally:
        _migrate(AFTER)
    assert not Assignment.objects.filter(study__isnull=True).exists()
    assert set(Assignment.objects.values_list("study_id", flat=True)) == {study.pk}
    assert annotator_progress(study=study, annotator=annotator) == AnnotatorProgress(done=3, total=8)
