from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """`counts|get_item:status`: dictionary lookup by a variable key."""
    return mapping.get(key) if mapping else None
