"""Comparison items keep their texts as sanitised HTML, rendered once; items built before are rendered here."""

from django.db import migrations, models


def render_existing(apps, schema_editor):
    from annotation.evaluation.services.judging import prompt_html
    from annotation.rendering import render_markdown

    ComparisonItem = apps.get_model("evaluation", "ComparisonItem")
    prompts: dict[int, str] = {}
    for item in ComparisonItem.objects.select_related("row").only("id", "row__conversations", "text_a", "text_b").iterator(chunk_size=500):
        if item.row_id not in prompts:
            prompts[item.row_id] = prompt_html(item.row.conversations)
        ComparisonItem.objects.filter(pk=item.pk).update(
            prompt_html=prompts[item.row_id], html_a=render_markdown(item.text_a), html_b=render_markdown(item.text_b) if item.text_b else "")


class Migration(migrations.Migration):

    dependencies = [
        ("evaluation", "0004_h16_tournament_safety_kinds"),
    ]

    operations = [
        migrations.AddField(
            model_name="comparisonitem",
            name="prompt_html",
            field=models.TextField(blank=True, editable=False, help_text="The prompt's turns as shown (sanitised HTML)."),
        ),
        migrations.AddField(
            model_name="comparisonitem",
            name="html_a",
            field=models.TextField(blank=True, editable=False, help_text="text_a as shown (sanitised HTML)."),
        ),
        migrations.AddField(
            model_name="comparisonitem",
            name="html_b",
            field=models.TextField(blank=True, editable=False, help_text="text_b as shown (sanitised HTML)."),
        ),
        migrations.RunPython(render_existing, migrations.RunPython.noop),
    ]
