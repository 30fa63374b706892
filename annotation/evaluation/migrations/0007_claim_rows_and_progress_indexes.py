"""The claim index carries row_id; assignments all name their study (rows from before the column get the item's);
an index for counting an annotator's progress from assignments alone."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('datasets', '0002_h16_tournament_sensitive'),
        ('evaluation', '0006_item_open_rows_index'),
        ('generation', '0002_h15_ops_chunk_leases'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='comparisonitem',
            name='item_claim_idx',
        ),
        migrations.AddIndex(
            model_name='assignment',
            index=models.Index(fields=['annotator', 'study', 'completed_at'], name='assignment_progress_idx'),
        ),
        migrations.AddIndex(
            model_name='comparisonitem',
            index=models.Index(condition=models.Q(('assigned_count__lt', models.F('capacity'))), fields=['study', '-is_shared', 'assigned_count', 'order_key', 'row_id'], name='item_claim_rows_idx'),
        ),
        # Plain SQL, the same on PostgreSQL and SQLite; reversing leaves the filled-in values (they are right). Last:
        # the UPDATE of a foreign key queues PostgreSQL's deferred constraint checks, and an index created on the table
        # after it in the same transaction is refused ("pending trigger events").
        migrations.RunSQL(
            "UPDATE evaluation_assignment SET study_id = (SELECT i.study_id FROM evaluation_comparisonitem i "
            "WHERE i.id = evaluation_assignment.item_id) WHERE study_id IS NULL",
            reverse_sql=migrations.RunSQL.noop,
        ),
    ]
