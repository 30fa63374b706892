"""Forms for snapshots: importing a GAIR/lima (or CSV) file and freezing approved examples."""

from __future__ import annotations

from django import forms

from annotation import paper
from annotation.datasets import lima_format
from annotation.models import Status
from lima_site.forms import validate_upload_size


class ImportForm(forms.Form):
    file = forms.FileField(validators=[validate_upload_size], help_text="GAIR/lima JSONL ({\"conversations\": [...], \"source\": ...} per line) or CSV.")
    default_split = forms.ChoiceField(
        choices=[(lima_format.AUTO_SPLIT, "From each row (prompt only → test, else train)"), *paper.SPLITS],
        initial=lima_format.AUTO_SPLIT,
        help_text="Used for rows without a split field.",
    )
    status = forms.ChoiceField(
        choices=[(Status.APPROVED, "Approved (an already curated dataset)"), (Status.SUBMITTED, "Submitted (to review)"),
                 (Status.CANDIDATE, "Candidate (to curate)")],
        initial=Status.APPROVED,
    )


class FreezeForm(forms.Form):
    name = forms.SlugField(max_length=100, help_text="e.g. lima-train-v1")
    split = forms.ChoiceField(choices=paper.SPLITS)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
