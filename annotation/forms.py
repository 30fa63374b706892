"""Forms: field validation where Django expects it; the turn list is parsed from numbered fields."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from annotation import lima_format, paper
from annotation.models import Quota, Role, Status
from annotation.services.examples import ExampleDraft, TurnInput

MAX_TURNS = 60
MAX_TURN_CHARS = 100_000


class ExampleForm(forms.Form):
    split = forms.ChoiceField(choices=paper.SPLITS)
    source = forms.ChoiceField(choices=paper.SOURCES)
    is_refusal = forms.BooleanField(required=False, label="Refusal example")
    title = forms.CharField(max_length=200, required=False)
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    turn_count = forms.IntegerField(min_value=0, max_value=MAX_TURNS, widget=forms.HiddenInput)

    def __init__(self, *args, splits: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["split"].choices = [(key, label) for key, label in paper.SPLITS if key in splits]
        self.turns: list[TurnInput] = []

    def clean(self):
        cleaned = super().clean()
        count = cleaned.get("turn_count")
        if count is None:
            return cleaned
        turns = []
        for index in range(count):
            role = self.data.get(f"turn-{index}-role")
            text = self.data.get(f"turn-{index}-text", "")
            if role not in Role.values:
                raise ValidationError({"turn_count": f"turn {index + 1}: unknown role {role!r}"})
            if "\x00" in text:
                raise ValidationError({"turn_count": f"turn {index + 1}: contains a NUL character"})
            if len(text) > MAX_TURN_CHARS:
                raise ValidationError({"turn_count": f"turn {index + 1}: longer than {MAX_TURN_CHARS:,} characters"})
            turns.append(TurnInput(role=role, text=text.replace("\r\n", "\n")))
        self.turns = turns
        return cleaned

    def draft(self) -> ExampleDraft:
        data = self.cleaned_data
        return ExampleDraft(
            split=data["split"], source=data["source"], is_refusal=data["is_refusal"], title=data["title"], turns=self.turns
        )


class NewExampleForm(forms.Form):
    split = forms.ChoiceField(choices=paper.SPLITS)
    source = forms.ChoiceField(choices=paper.SOURCES, initial=paper.AUTHORED)

    def __init__(self, *args, splits: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["split"].choices = [(key, label) for key, label in paper.SPLITS if key in splits]


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class QuotaForm(forms.ModelForm):
    class Meta:
        model = Quota
        fields = ["target"]


class ImportForm(forms.Form):
    file = forms.FileField(help_text="GAIR/lima JSONL ({\"conversations\": [...], \"source\": ...} per line) or CSV.")
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


class StudyForm(forms.ModelForm):
    class Meta:
        from annotation.models import Study

        model = Study
        fields = ["name", "public_title", "kind", "dataset", "target_run", "baseline_runs", "annotators", "overlap", "agreement_subset",
                  "absolute_sample", "guidelines", "seed"]
        widgets = {"guidelines": forms.Textarea(attrs={"rows": 4}), "baseline_runs": forms.SelectMultiple(attrs={"size": 5}),
                   "annotators": forms.SelectMultiple(attrs={"size": 6})}

    def __init__(self, *args, **kwargs):
        from django.contrib.auth import get_user_model

        from generation.models import GenerationRun

        super().__init__(*args, **kwargs)
        self.fields["annotators"].queryset = get_user_model().objects.filter(groups__name="annotator", is_active=True).order_by("username")
        runs = GenerationRun.objects.select_related("model", "dataset").order_by("-created_at")
        self.fields["target_run"].queryset = runs
        self.fields["baseline_runs"].queryset = runs
        self.fields["target_run"].label_from_instance = self.fields["baseline_runs"].label_from_instance = (
            lambda run: f"#{run.pk} {run.model} on {run.dataset} ({run.get_status_display()})"
        )
        self.fields["baseline_runs"].required = False

    def clean(self):
        cleaned = super().clean()
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
        if cleaned.get("overlap") == 0:
            self.add_error("overlap", "at least one judgment per item")
        return cleaned


class LLMJudgeForm(forms.Form):
    model = forms.ModelChoiceField(queryset=None)
    template = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}))

    def __init__(self, *args, **kwargs):
        from annotation.llm_judge_prompt import DEFAULT_TEMPLATE
        from generation.models import Backend, ModelSpec

        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = ModelSpec.objects.exclude(backend=Backend.IMPORTED)
        self.fields["template"].initial = DEFAULT_TEMPLATE
