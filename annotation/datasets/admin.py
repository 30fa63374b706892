from django.contrib import admin

from annotation.datasets.models import Dataset


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "split", "row_count", "content_hash", "created_at")
    readonly_fields = ("content_hash", "row_count")

