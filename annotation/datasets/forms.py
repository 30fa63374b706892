"""Forms for snapshots: importing a GAIR/lima (or CSV) file and freezing approved examples."""

from __future__ import annotations

from django import forms

from annotation import paper
from annotation.datasets import lima_format
from annotation.models import Status
from lima_site.forms import validate_upload_size


class ImportForm(forms.Form):
    file = forms.FileField(
        validators=[validate_upload_size],
        help_text="GAIR/lima, Hugging Face messages, ShareGPT or Alpaca / LLaMA-Factory records, as JSONL, a JSON array, "
                  "CSV or Parquet: the format is detected.",
    )
    default_split = forms.ChoiceField(
        choices=[(lima_format.AUTO_SPLIT, "From each row (prompt only → test, else train)"), *paper.SPLITS],
        initial=lima_format.AUTO_SPLIT,
        help_text="Used for rows without a split field.",
    )
    default_source = forms.ChoiceField(
        choices=[("", "None: a row without a source is an error"), *paper.SOURCES], required=False,
        help_text="The source of rows that name none (Hugging Face, ShareGPT and Alpaca files rarely do).",
    )
    unknown_as_other = forms.BooleanField(
        required=False, label="Import unknown sources as “Other / unclassified”",
        help_text="A row whose source is not one of ours (e.g. “unknown”) is kept under Other, its source name recorded.",
    )
    status = forms.ChoiceField(
        choices=[(Status.APPROVED, "Approved (an already curated dataset)"), (Status.SUBMITTED, "Submitted (to review)"),
                 (Status.CANDIDATE, "Candidate (to curate)")],
        initial=Status.APPROVED,
    )


def source_policy(cleaned_data: dict) -> lima_format.SourcePolicy:
    return lima_format.SourcePolicy(default=cleaned_data.get("default_source") or "",
                                    unknown_as_other=bool(cleaned_data.get("unknown_as_other")))


class FreezeForm(forms.Form):
    name = forms.SlugField(max_length=100, help_text="e.g. lima-train-v1")
    split = forms.ChoiceField(choices=paper.SPLITS)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    accept_contamination = forms.BooleanField(
        required=False, label="Freeze even if prompts duplicate across train and dev/test",
        help_text="Without it, a snapshot sharing exact, normalised or near-duplicate prompts across splits is refused with the pairs.",
    )
