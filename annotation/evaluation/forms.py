"""Forms for studies and the LLM judge."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from annotation.evaluation.judge_prompt import DEFAULT_TEMPLATE
from annotation.evaluation.models import Study
from annotation.evaluation.models.judging import SAFETY_GUIDELINES
from generation.models import Backend, GenerationRun, ModelSpec


class StudyForm(forms.ModelForm):
    # A choice, not a checkbox: an unticked box and a post that leaves the field out look the same, and
    # leaving it out must keep the safe default.
    one_prompt_per_annotator = forms.TypedChoiceField(
        label="One prompt per annotator", coerce=lambda value: value == "true", required=False, empty_value=True, initial="true",
        choices=[("true", "Yes: each annotator sees a prompt once (recommended)"),
                 ("false", "No: an annotator may see a prompt with several baselines (weaker blindness)")],
        help_text=Study._meta.get_field("one_prompt_per_annotator").help_text)

    class Meta:
        model = Study
        fields = ["name", "public_title", "kind", "dataset", "target_run", "baseline_runs", "annotators", "overlap", "agreement_subset",
                  "absolute_sample", "one_prompt_per_annotator", "attention_checks", "speed_flag_seconds", "max_overlap",
                  "guidelines", "seed"]
        widgets = {"guidelines": forms.Textarea(attrs={"rows": 4}), "baseline_runs": forms.SelectMultiple(attrs={"size": 5}),
                   "annotators": forms.SelectMultiple(attrs={"size": 6})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["annotators"].queryset = get_user_model().objects.filter(groups__name="annotator", is_active=True).order_by("username")
        runs = GenerationRun.objects.select_related("model", "dataset").order_by("-created_at")
        self.fields["target_run"].queryset = runs
        self.fields["baseline_runs"].queryset = runs
        self.fields["target_run"].label_from_instance = self.fields["baseline_runs"].label_from_instance = (
            lambda run: f"#{run.pk} {run.model} on {run.dataset} ({run.get_status_display()})"
        )
        # Settings with a sensible default may be left out of a post (an API client, an older form): the default applies.
        for name in ("attention_checks", "speed_flag_seconds", "max_overlap"):
            self.fields[name].required = False
        self.fields["baseline_runs"].required = False

    def clean(self):
        cleaned = super().clean()
        for name in ("attention_checks", "speed_flag_seconds", "max_overlap"):
            if cleaned.get(name) is None and name not in self.errors:
                cleaned[name] = Study._meta.get_field(name).get_default()
        dataset, target, baselines = cleaned.get("dataset"), cleaned.get("target_run"), cleaned.get("baseline_runs") or []
        if dataset and target and target.dataset_id != dataset.pk:
            self.add_error("target_run", "the target run must be over the study's prompt snapshot")
        for run in baselines:
            if dataset and run.dataset_id != dataset.pk:
                self.add_error("baseline_runs", f"run #{run.pk} is over another snapshot")
            if target and run.pk == target.pk:
                self.add_error("baseline_runs", "the target cannot be its own baseline")
        if cleaned.get("kind") == "pairwise" and not baselines:
            self.add_error("baseline_runs", "a pairwise study compares the target with at least one baseline")
        if cleaned.get("kind") == "tournament" and not baselines:
            self.add_error("baseline_runs", "a tournament compares at least two runs: the first run and at least one more")
        if cleaned.get("kind") == "safety" and not (cleaned.get("guidelines") or "").strip():
            # The paper's meaning of the three labels, unless the researcher wrote their own.
            cleaned["guidelines"] = SAFETY_GUIDELINES
        if cleaned.get("overlap") == 0:
            self.add_error("overlap", "at least one judgment per item")
        if cleaned.get("max_overlap") and cleaned.get("overlap") and cleaned["max_overlap"] <= cleaned["overlap"]:
            self.add_error("max_overlap", "above the overlap (or 0 for off): disagreeing items grow from the overlap up to this")
        if cleaned.get("attention_checks") and cleaned.get("kind") not in ("pairwise", "tournament"):
            self.add_error("attention_checks", "attention checks are pairs: only pairwise studies and tournaments have them")
        if (cleaned.get("speed_flag_seconds") or 0) < 0:
            self.add_error("speed_flag_seconds", "seconds cannot be negative")
        return cleaned


class LLMJudgeForm(forms.Form):
    model = forms.ModelChoiceField(queryset=None)
    template = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = ModelSpec.objects.exclude(backend=Backend.IMPORTED)
        self.fields["template"].initial = DEFAULT_TEMPLATE
