"""Forms of live multi-turn evaluation: the researcher's study, the evaluator's message and rating."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from annotation.evaluation.models import Rating
from generation.models import Backend, ModelSpec


class ConversationStudyForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="For researchers; evaluators never see it.")
    public_title = forms.CharField(max_length=200, required=False, help_text="What evaluators see. Never name a model.")
    model_pool = forms.ModelMultipleChoiceField(queryset=ModelSpec.objects.exclude(backend=Backend.IMPORTED), label="Models",
                                                widget=forms.SelectMultiple(attrs={"size": 6}),
                                                help_text="Each evaluator talks to one of them at a time, shown only as Model X.")
    evaluators = forms.ModelMultipleChoiceField(queryset=get_user_model().objects.none(), widget=forms.SelectMultiple(attrs={"size": 6}))
    conversations_per_model = forms.IntegerField(min_value=1, max_value=1000, initial=10, help_text="LIMA: 10")
    turns_per_conversation = forms.IntegerField(min_value=1, max_value=50, initial=5, help_text="Answers of the model per conversation")
    guidelines = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["evaluators"].queryset = get_user_model().objects.filter(groups__name="annotator", is_active=True).order_by("username")


class MessageForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), strip=True, max_length=20_000)
    position = forms.IntegerField(min_value=0, widget=forms.HiddenInput)


class TurnRatingForm(forms.Form):
    grade = forms.ChoiceField(choices=Rating.Grade.choices)
    note = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 1}))
