from django.contrib import admin

from annotation.models import AuthorProfile, Example, ExampleRevision, Quota, Turn


class TurnInline(admin.TabularInline):
    model = Turn
    extra = 0


@admin.register(Example)
class ExampleAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "split", "source", "status", "is_refusal", "is_multi_turn", "created_by", "updated_at")
    list_filter = ("split", "source", "status", "is_refusal", "is_multi_turn")
    search_fields = ("title", "turns__text")
    list_select_related = ("created_by",)
    inlines = [TurnInline]


@admin.register(ExampleRevision)
class ExampleRevisionAdmin(admin.ModelAdmin):
    list_display = ("example", "version", "action", "user", "created_at")
    list_select_related = ("example", "user")


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = ("split", "source", "flag", "target")


admin.site.register(AuthorProfile)
