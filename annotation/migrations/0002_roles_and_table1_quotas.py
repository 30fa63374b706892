"""Create the role groups and the default quotas from the LIMA paper's Table 1."""

from django.db import migrations

from annotation import paper


def forwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Quota = apps.get_model("annotation", "Quota")
    for role in ("author", "annotator", "researcher"):
        Group.objects.get_or_create(name=role)
    for row in paper.TABLE_1:
        Quota.objects.get_or_create(split=row.split, source=row.source, flag="", defaults={"target": row.examples})
    Quota.objects.get_or_create(split=paper.TRAIN, source="", flag="refusal", defaults={"target": paper.REFUSAL_TARGET})
    Quota.objects.get_or_create(split=paper.TRAIN, source="", flag="multi_turn", defaults={"target": paper.MULTI_TURN_TARGET})


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
