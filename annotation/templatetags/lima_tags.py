from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """`counts|get_item:status`: dictionary lookup by a variable key."""
    return mapping.get(key) if mapping else None


@register.filter
def markdown(text):
    """Render user or model text as sanitised HTML (nh3); safe to insert as is."""
    from django.utils.safestring import mark_safe

    from annotation.rendering import render_markdown

    return mark_safe(render_markdown(text or ""))
