"""The experiment form: the training form's recipe and resources (7B preset), plus what varies and how it is graded."""

from __future__ import annotations

from django import forms

from annotation import paper
from annotation.datasets.models import Dataset
from generation.decoding import LIMA_DECODING
from generation.models import Backend, ModelSpec
from lima_site.orchestration import helpfulness
from training.forms import TrainingRunForm

# What a variant may draw from; "stackexchange" is the paper's Stack Exchange (STEM and Other together).
SOURCE_GROUPS = {
    "stackexchange_all": ("stackexchange_stem", "stackexchange_other", "stackexchange"),
    **{key: (key,) for key, _ in paper.SOURCES},
}
GROUP_NAMES = {"stackexchange_all": "stackexchange"}
SOURCE_GROUP_CHOICES = [("stackexchange_all", "Stack Exchange (STEM + Other + unclassified)"), *paper.SOURCES]


class ExperimentForm(TrainingRunForm):
    name = forms.SlugField(max_length=60)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    sources = forms.MultipleChoiceField(
        choices=SOURCE_GROUP_CHOICES, widget=forms.CheckboxSelectMultiple,
        help_text="Diversity: each source is a variant (LIMA: Stack Exchange vs wikiHow).")
    unfiltered = forms.BooleanField(required=False, label="Also without the quality filter",
                                    help_text="Quality: each source again with every mined example, reviewed or not.")
    size = forms.IntegerField(required=False, min_value=1, help_text="Training examples per variant (LIMA: 2,000); empty: all.")
    doublings = forms.IntegerField(min_value=0, max_value=8, initial=0,
                                   help_text="Quantity: the first source at size ×2, ×4, … (LIMA: 2K → 32K is 4).")
    seeds = forms.IntegerField(min_value=1, max_value=10, initial=1, help_text="Each variant sampled with this many seeds.")
    dev_dataset = forms.ModelChoiceField(queryset=Dataset.objects.filter(split="dev"), label="Dev snapshot")
    samples_per_prompt = forms.IntegerField(min_value=1, max_value=100, initial=5, help_text="LIMA: 5")
    max_new_tokens = forms.IntegerField(min_value=1, max_value=32768, initial=LIMA_DECODING.max_new_tokens)
    judge_model = forms.ModelChoiceField(queryset=ModelSpec.objects.exclude(backend=Backend.IMPORTED), label="LLM judge")
    judge_template = forms.CharField(widget=forms.Textarea(attrs={"rows": 12}), initial=helpfulness.DEFAULT_TEMPLATE,
                                     help_text="Stored with the experiment; {prompt} and {response} are filled in.")

    field_order = ["name", "description", "base_model", "sources", "unfiltered", "size", "doublings", "seeds"]

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("preset", "lima-7b")
        super().__init__(*args, **kwargs)
        del self.fields["dataset"]
        # Each variant's checkpoint generates as the base model does (its backend and queue): no choice here.
        self.fields.pop("checkpoint_backend", None)
        self.fields["launcher"].initial = "local"

    FIELDSETS = (
        ("What", ("name", "description", "base_model")),
        ("Variants", ("sources", "unfiltered", "size", "doublings", "seeds")),
        ("Recipe (one for every variant)", ("preset", "epochs", "batch_size", "micro_batch_size", "learning_rate",
                                            "final_learning_rate", "adam_beta1", "adam_beta2", "weight_decay", "max_length",
                                            "residual_dropout_top", "seed", "weights_epochs")),
        ("Where", ("launcher", "nodes", "gpus_per_node", "cpus_per_task", "partition", "account", "qos", "time_limit")),
        ("Dev generation and grading", ("dev_dataset", "samples_per_prompt", "max_new_tokens", "judge_model", "judge_template")),
    )

    def fieldsets(self):
        """(legend, bound fields) in the order the page shows them; every field of the form exactly once."""
        return [(legend, [self[name] for name in names]) for legend, names in self.FIELDSETS]

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            try:
                self.variants()
            except ValueError as exc:
                self.add_error("doublings" if "size" in str(exc) else "sources", str(exc))
        return cleaned

    def variants(self) -> list[helpfulness.VariantSpec]:
        data = self.cleaned_data
        return helpfulness.plan_variants(source_groups=[SOURCE_GROUPS[key] for key in data["sources"]], size=data["size"],
                                         unfiltered=data["unfiltered"], doublings=data["doublings"], seeds=data["seeds"],
                                         group_names=[GROUP_NAMES.get(key, key) for key in data["sources"]])
