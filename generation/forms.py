from django import forms
from django.conf import settings

from annotation.datasets.models import Dataset
from generation import registration
from generation.models import Backend, ModelSpec
from lima_site.forms import validate_upload_size


class ModelSpecForm(forms.ModelForm):
    class Meta:
        model = ModelSpec
        fields = ["name", "backend", "location", "served_model_name", "api_key_env", "requests_per_minute",
                  "top_p", "temperature", "repetition_penalty", "max_new_tokens", "chat_template", "description"]
        widgets = {"chat_template": forms.Textarea(attrs={"rows": 2}), "description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].help_text = (
            f"A checkpoint directory under {', '.join(str(root) for root in registration.model_roots())} "
            "(vllm, transformers), or a base URL such as https://host:8000/v1 (openai)."
        )
        self.fields["api_key_env"].help_text = (
            "Name of the environment variable holding the API key (never the key itself), one of "
            f"{', '.join(settings.LIMA_API_KEY_ENV_ALLOWED)}."
        )


class RunForm(forms.Form):
    model = forms.ModelChoiceField(queryset=ModelSpec.objects.exclude(backend=Backend.IMPORTED))
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.all(), label="Prompt snapshot")
    top_p = forms.FloatField(required=False, min_value=0.0, max_value=1.0, help_text="Empty: the model's default (LIMA 0.9)")
    temperature = forms.FloatField(required=False, min_value=0.0, help_text="Empty: the model's default (LIMA 0.7)")
    repetition_penalty = forms.FloatField(required=False, min_value=0.01, help_text="Empty: default (LIMA 1.2)")
    max_new_tokens = forms.IntegerField(required=False, min_value=1, max_value=32768, help_text="Empty: default (LIMA 2,048)")
    seed = forms.IntegerField(initial=0)
    chunk_size = forms.IntegerField(initial=16, min_value=1, max_value=1024, help_text="Prompts per Celery task")

    def decoding_overrides(self) -> dict:
        keys = ("top_p", "temperature", "repetition_penalty", "max_new_tokens")
        return {key: self.cleaned_data[key] for key in keys if self.cleaned_data.get(key) is not None}


class ImportResponsesForm(forms.Form):
    model = forms.ModelChoiceField(queryset=ModelSpec.objects.filter(backend=Backend.IMPORTED))
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.all(), label="Prompt snapshot")
    file = forms.FileField(validators=[validate_upload_size], help_text='JSONL: {"example_id": 12, "response": "..."} or {"prompt": "...", "response": "..."} per line')
