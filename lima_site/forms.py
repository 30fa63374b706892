"""What the apps' forms share."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def copy_errors_to_form(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form that asked for it.

    Errors for the form's own fields go on those fields; the rest (no field, or a field the form does
    not have, which form.add_error refuses with ValueError) become the form's non-field errors.
    """
    if hasattr(error, "error_dict"):
        by_field: dict[str, list[ValidationError]] = {}
        for field, errors in error.error_dict.items():
            by_field.setdefault(field if field in form.fields else NON_FIELD_ERRORS, []).extend(errors)
        error = ValidationError(by_field)
    form.add_error(None, error)


def validate_upload_size(upload) -> None:
    """Refuse a file over LIMA_MAX_UPLOAD_BYTES (the upload handler stopped storing it at the limit)."""
    from django.conf import settings

    limit = settings.LIMA_MAX_UPLOAD_BYTES
    if upload.size > limit:
        mib = 1024 * 1024
        shown = f"{limit // mib:,} MiB" if limit % mib == 0 else f"{limit:,} bytes"
        raise ValidationError(f"the file is larger than {shown}, the most an upload may be (LIMA_MAX_UPLOAD_BYTES)",
                              code="too_large")
