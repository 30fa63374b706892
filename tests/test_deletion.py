"""Deleting what was made by mistake: one's own drafts, draft studies, unused models. A GET asks for confirmation
(or says what stands in the way), only a POST deletes, and nothing another object depends on goes."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.evaluation.models import Study
from annotation.models import Example, Status
from generation.models import GenerationRun, ModelSpec
from tests.builders import completed_run, example, pairwise_study, prompt_snapshot
from tests.test_authoring_views import form_data

pytestmark = pytest.mark.django_db


def test_an_author_deletes_an_own_draft_after_confirming(client, author, make_user):
    draft = example(user=author)
    client.force_login(author)
    url = reverse("annotation:example_delete", args=[draft.pk])
    page = client.get(url).content.decode()
    assert 'id="confirm-delete-button"' in page and Example.objects.filter(pk=draft.pk).exists()
    assert f'href="{url}"' in client.get(reverse("annotation:example_edit", args=[draft.pk])).content.decode()
    assert client.post(url).status_code == 302 and not Example.objects.filter(pk=draft.pk).exists()
    other = example(user=make_user("author", username="someone-else"))
    assert client.post(reverse("annotation:example_delete", args=[other.pk])).status_code == 404
    assert Example.objects.filter(pk=other.pk).exists()


def test_a_submitted_example_is_not_deleted_and_the_page_says_why(client, author):
    submitted = example(user=author, status=Status.SUBMITTED)
    client.force_login(author)
    url = reverse("annotation:example_delete", args=[submitted.pk])
    assert "only drafts can be deleted" in client.get(url).content.decode()
    assert 'id="confirm-delete-button"' not in client.get(url).content.decode()
    assert client.post(url).status_code == 409 and Example.objects.filter(pk=submitted.pk).exists()


def test_new_example_by_get_creates_nothing_and_a_second_click_reopens_the_empty_draft(client, author):
    client.force_login(author)
    url = reverse("annotation:example_create")
    assert client.get(url).status_code == 302 and not Example.objects.exists()
    first = client.post(url, {"split": "train", "source": "authored"})
    again = client.post(url, {"split": "train", "source": "authored"})
    assert first["Location"] == again["Location"] and Example.objects.count() == 1
    draft = Example.objects.get()
    client.post(reverse("annotation:example_autosave", args=[draft.pk]), form_data(draft, "How do I start?", ""))
    client.post(url, {"split": "train", "source": "authored"})
    assert Example.objects.count() == 2  # the first draft has text now: a new one is opened


def test_a_draft_study_is_deleted_and_an_opened_one_is_refused(client, researcher, annotator):
    draft = pairwise_study(researcher=researcher, annotators=[annotator], prompts=2, open_it=False, name="draft")
    client.force_login(researcher)
    url = reverse("evaluation:study_delete", args=[draft.pk])
    assert f'href="{url}"' in client.get(reverse("evaluation:study_detail", args=[draft.pk])).content.decode()
    assert 'id="confirm-delete-button"' in client.get(url).content.decode()
    assert client.post(url).status_code == 302 and not Study.objects.filter(pk=draft.pk).exists()
    assert GenerationRun.objects.filter(dataset__name="draft-prompts").count() == 3  # its runs stay
    opened = pairwise_study(researcher=researcher, annotators=[annotator], prompts=2, name="opened")
    url = reverse("evaluation:study_delete", args=[opened.pk])
    assert "only a draft study can be deleted" in client.get(url).content.decode()
    assert client.post(url).status_code == 409 and Study.objects.filter(pk=opened.pk).exists()


def test_an_unused_model_is_deleted_and_a_used_one_names_what_uses_it(client, researcher, author):
    unused = ModelSpec.objects.create(name="typo-model", backend="imported")
    dataset = prompt_snapshot(user=researcher, n=2)
    used = completed_run(dataset=dataset, model_name="in-use").model
    client.force_login(researcher)
    listing = client.get(reverse("generation:model_list")).content.decode()
    assert reverse("generation:model_delete", args=[unused.pk]) in listing
    assert reverse("generation:model_delete", args=[used.pk]) not in listing
    assert client.post(reverse("generation:model_delete", args=[unused.pk])).status_code == 302
    assert not ModelSpec.objects.filter(pk=unused.pk).exists()
    url = reverse("generation:model_delete", args=[used.pk])
    assert "it is used by 1 generation run" in client.get(url).content.decode()
    assert client.post(url).status_code == 409 and ModelSpec.objects.filter(pk=used.pk).exists()
    client.force_login(author)
    assert client.post(url).status_code == 403
