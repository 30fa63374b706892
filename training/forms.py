"""Forms for launching a training run: LIMA's recipe prefilled, resources, launcher."""

from __future__ import annotations

from django import forms

from annotation.datasets.models import Dataset
from generation.models import Backend, ModelSpec
from training import slurm
from training.models import Launcher
from training.recipe import LIMA_65B, PRESETS, Hyperparameters

RECIPE_FIELDS = ("epochs", "batch_size", "micro_batch_size", "learning_rate", "final_learning_rate", "adam_beta1",
                 "adam_beta2", "weight_decay", "max_length", "residual_dropout_top", "seed",
                 "weights_epochs")


class TrainingRunForm(forms.Form):
    name = forms.SlugField(required=False, max_length=80, help_text="Empty: sft-<model>-<dataset>")
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.filter(split="train"), label="Training snapshot")
    base_model = forms.ModelChoiceField(queryset=ModelSpec.objects.filter(backend__in=[Backend.TRANSFORMERS, Backend.VLLM]))
    preset = forms.ChoiceField(choices=[("lima-65b", "LIMA (65B): batch 32, top dropout 0.3"),
                                        ("lima-7b", "LIMA 7B: batch 64, top dropout 0.2")],
                               initial="lima-65b", required=False, help_text="Fills the recipe below")
    epochs = forms.IntegerField(min_value=1, initial=LIMA_65B.epochs)
    batch_size = forms.IntegerField(min_value=1, initial=LIMA_65B.batch_size, help_text="Examples per optimiser step")
    micro_batch_size = forms.IntegerField(min_value=1, initial=LIMA_65B.micro_batch_size,
                                          help_text="Per process; the rest is gradient accumulation")
    learning_rate = forms.FloatField(initial=LIMA_65B.learning_rate)
    final_learning_rate = forms.FloatField(initial=LIMA_65B.final_learning_rate, help_text="Linear decay, no warm-up")
    adam_beta1 = forms.FloatField(initial=LIMA_65B.adam_beta1)
    adam_beta2 = forms.FloatField(initial=LIMA_65B.adam_beta2)
    weight_decay = forms.FloatField(initial=LIMA_65B.weight_decay)
    max_length = forms.IntegerField(min_value=1, initial=LIMA_65B.max_length, help_text="Longer texts are trimmed")
    residual_dropout_top = forms.FloatField(initial=LIMA_65B.residual_dropout_top, help_text="0.0 at the bottom layer")
    seed = forms.IntegerField(initial=LIMA_65B.seed)
    weights_epochs = forms.CharField(initial=LIMA_65B.weights_epochs, label="Weights for epochs",
                                     help_text="Hugging Face weights for these epochs (and the last), e.g. 5-10 or all; "
                                               "every epoch keeps a sharded resume checkpoint until the next")
    launcher = forms.ChoiceField(choices=Launcher.choices, initial=Launcher.SLURM,
                                 help_text="Preselected: the one that works on this host (local when no Slurm controller answers)")
    checkpoint_backend = forms.ChoiceField(
        choices=[("", "As the base model (vLLM where GPU workers are configured, else transformers)"),
                 ("transformers", "transformers (CPU queue)"), ("vllm", "vLLM (GPU queue)")],
        required=False, label="Checkpoints generate with",
        help_text="Each epoch's checkpoint is registered with this backend and its queue for the dev-set responses")
    nodes = forms.IntegerField(min_value=1, initial=1)
    gpus_per_node = forms.IntegerField(min_value=0, initial=0, help_text="0: CPU")
    cpus_per_task = forms.IntegerField(min_value=1, initial=1)
    partition = forms.CharField(required=False)
    account = forms.CharField(required=False)
    qos = forms.CharField(required=False, label="QoS")
    time_limit = forms.CharField(required=False, help_text="e.g. 2-00:00:00")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A preset chosen on the GET (?preset=lima-7b) prefills its recipe.
        preset = PRESETS.get(self.initial.get("preset", ""))
        if preset and not self.is_bound:
            for field in RECIPE_FIELDS:
                self.fields[field].initial = getattr(preset, field)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        problems = Hyperparameters.problems(_Unchecked(**{f: cleaned[f] for f in RECIPE_FIELDS}))
        problems.update(self.resources().problems())
        for field, message in problems.items():
            self.add_error(field, message)
        return cleaned

    def hyperparameters(self) -> dict:
        return {field: self.cleaned_data[field] for field in RECIPE_FIELDS}

    def resources(self) -> slurm.Resources:
        data = self.cleaned_data
        return slurm.Resources(nodes=data["nodes"], gpus_per_node=data["gpus_per_node"], cpus_per_task=data["cpus_per_task"],
                               partition=data["partition"].strip(), account=data["account"].strip(), qos=data["qos"].strip(),
                               time_limit=data["time_limit"].strip())


class SubmitForm(forms.Form):
    """Submit a draft, or submit again a run the scheduler refused, on the launcher chosen here."""

    launcher = forms.ChoiceField(choices=Launcher.choices, required=False)


class _Unchecked:
    """Attribute bag so Hyperparameters.problems() reports every field at once instead of raising on the first."""

    def __init__(self, **values):
        self.__dict__.update(values)


class DevResponsesForm(forms.Form):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.filter(split="dev"), label="Dev snapshot")
    epochs = forms.CharField(required=False, help_text="Comma-separated; empty: epochs 5-10 (LIMA)")

    def clean_epochs(self) -> list[int]:
        text = self.cleaned_data["epochs"].strip()
        if not text:
            return []
        try:
            return sorted({int(part) for part in text.replace(" ", "").split(",") if part})
        except ValueError as exc:
            raise forms.ValidationError("whole epoch numbers separated by commas, e.g. 5,6,7") from exc
