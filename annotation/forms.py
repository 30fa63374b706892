"""Forms: field validation where Django expects it; the turn list is parsed from numbered fields."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from annotation import paper
from annotation.models import Quota, Role, Status
from annotation.services.examples import ExampleDraft, TurnInput

MAX_TURNS = 60
MAX_TURN_CHARS = 100_000


class ExampleForm(forms.Form):
    split = forms.ChoiceField(choices=paper.SPLITS)
    source = forms.ChoiceField(choices=paper.SOURCES)
    is_refusal = forms.BooleanField(required=False, label="Refusal example")
    is_sensitive = forms.BooleanField(required=False, label="Sensitive prompt (safety studies)")
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
            split=data["split"], source=data["source"], is_refusal=data["is_refusal"], is_sensitive=data["is_sensitive"], title=data["title"], turns=self.turns
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
