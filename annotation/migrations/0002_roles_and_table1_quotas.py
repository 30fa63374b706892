"""Create the role groups and the default quotas from the LIMA paper's Table 1."""

from django.db import migrations

from annotation.defaults import ensure_defaults


def forwards(apps, schema_editor):
    ensure_defaults(group_model=apps.get_model("auth", "Group"), quota_model=apps.get_model("annotation", "Quota"))


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
