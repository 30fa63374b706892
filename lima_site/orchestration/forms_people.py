"""Forms of the people pages: field checks here, the rules that span fields and the database in people.py."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from annotation.evaluation.models import Study
from annotation.models import AuthorGroup
from lima_site.orchestration import people
from lima_site.roles import ANNOTATOR, AUTHOR


def _open_studies():
    return Study.objects.exclude(state=Study.State.CLOSED).order_by("-created_at")


class PersonForm(forms.Form):
    email = forms.EmailField(required=False)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    roles = forms.MultipleChoiceField(choices=[(AUTHOR, "Author"), (ANNOTATOR, "Annotator")], widget=forms.CheckboxSelectMultiple)
    author_group = forms.ChoiceField(choices=[("", "None (not an author)"), *AuthorGroup.choices], required=False)
    pools = forms.CharField(required=False, max_length=500, help_text="Annotator pools, comma-separated (created when new).")
    studies = forms.ModelMultipleChoiceField(queryset=Study.objects.none(), required=False,
                                             widget=forms.SelectMultiple(attrs={"size": 4}),
                                             help_text="Studies this annotator judges in (not closed).")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["studies"].queryset = _open_studies()

    def clean_pools(self) -> list[str]:
        try:
            return people.parse_pool_names(self.cleaned_data["pools"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["pools"]) from exc

    def person(self) -> people.PersonInput:
        data = self.cleaned_data
        return people.PersonInput(
            roles=tuple(data["roles"]), author_group=data["author_group"], pools=tuple(data["pools"]),
            studies=tuple(data["studies"]), email=data["email"], first_name=data["first_name"], last_name=data["last_name"])


class NewPersonForm(PersonForm):
    username = forms.CharField(max_length=150, help_text="Letters, digits and @/./+/-/_ only.")
    password = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                               help_text="Leave empty to get a one-time invite link instead (the person sets their own).")
    field_order = ["username", "email", "first_name", "last_name", "roles", "author_group", "pools", "studies", "password"]

    def clean_username(self) -> str:
        from django.contrib.auth.validators import UnicodeUsernameValidator

        username = self.cleaned_data["username"].strip()
        UnicodeUsernameValidator()(username)
        return username


class PoolToStudyForm(forms.Form):
    pool = forms.ChoiceField(choices=())
    study = forms.ModelChoiceField(queryset=Study.objects.none())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pool"].choices = [(name, f"{name} ({n} active)") for name, n in people.pools()]
        self.fields["study"].queryset = _open_studies()
