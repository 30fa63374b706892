"""People in the app: researchers create or invite authors and annotators, set groups and pools, add them to
studies, deactivate them (never themselves, never the last researcher), and see their work."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.models import AuthorProfile, Status
from lima_site.orchestration import people
from tests.builders import example, pairwise_study

pytestmark = pytest.mark.django_db
User = get_user_model()


def log_in(client, username: str, password: str) -> bool:
    client.post(reverse("login"), {"username": username, "password": password})
    return "_auth_user_id" in client.session


def create(client, **fields):
    data = {"username": "newbie", "roles": ["annotator"], "author_group": "", "pools": "", "email": "", **fields}
    return client.post(reverse("team:people"), data)


def test_an_invited_annotator_sets_a_password_once_and_logs_in(client, researcher):
    client.force_login(researcher)
    response = create(client, username="ann-invited", pools="crowd, Crowd ,experts")
    user = User.objects.get(username="ann-invited")
    assert response.status_code == 302 and not user.has_usable_password()
    assert set(user.groups.values_list("name", flat=True)) == {"annotator", "pool: crowd", "pool: experts"}
    page = client.get(response["Location"]).content.decode()
    link = re.search(r'value="([^"]+)" id="invite-url"', page).group(1)
    assert "/accounts/invite/" in link
    assert 'id="invite-url"' not in client.get(response["Location"]).content.decode()  # shown once

    visitor = type(client)()
    path = link.split("testserver", 1)[1]
    form_page = visitor.get(path, follow=True)
    assert form_page.status_code == 200 and b"Set your password" in form_page.content
    set_url = form_page.redirect_chain[-1][0]
    refused = visitor.post(set_url, {"new_password1": "short", "new_password2": "short"})
    assert refused.status_code == 200 and b"too short" in refused.content
    done = visitor.post(set_url, {"new_password1": "a-long-enough-pass-42", "new_password2": "a-long-enough-pass-42"})
    assert done.status_code == 302
    assert log_in(visitor, "ann-invited", "a-long-enough-pass-42")
    again = type(client)().get(path, follow=True)
    assert b'id="invalid-invite"' in again.content  # the token covered the old (unusable) password


@pytest.mark.parametrize("fields, field, message", [
    ({"username": "Researcher1"}, "username", "is taken"),
    ({"roles": ["author"], "author_group": ""}, "author_group", "group A"),
    ({"roles": ["annotator"], "author_group": "B"}, "author_group", "only authors"),
    ({"roles": ["researcher"]}, "roles", "valid choice"),
    ({"password": "password"}, "password", "too common"),
    ({"pools": "ok, <script>"}, "pools", "letters, digits"),
    ({"username": "bad name!"}, "username", "valid username"),
])
def test_bad_input_names_the_field_and_creates_nobody(client, researcher, fields, field, message):
    client.force_login(researcher)
    before = User.objects.count()
    response = create(client, **fields)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert User.objects.count() == before


def test_a_pool_whose_group_cannot_be_made_leaves_no_half_created_person(client, researcher, monkeypatch):
    client.force_login(researcher)

    def broken(user, person):
        user.groups.add(*[])
        raise RuntimeError("disk full")

    monkeypatch.setattr(people, "_apply", broken)
    with pytest.raises(RuntimeError):
        people.create_person(username="half", person=people.PersonInput(roles=("annotator",)), actor=researcher)
    assert not User.objects.filter(username="half").exists()


def test_groups_pools_and_studies_are_edited_in_the_app(client, researcher, make_user):
    annotator = make_user("annotator", username="ann-edit")
    study = pairwise_study(researcher=researcher, annotators=[], prompts=3, baselines=("b",), open_it=False)
    client.force_login(researcher)
    response = client.post(reverse("team:person_detail", args=[annotator.pk]), {
        "roles": ["author", "annotator"], "author_group": "B", "pools": "authors-who-judge", "studies": [study.pk]})
    assert response.status_code == 302
    assert AuthorProfile.objects.get(user=annotator).group == "B"
    assert study.annotators.filter(pk=annotator.pk).exists()
    client.post(reverse("team:person_detail", args=[annotator.pk]), {"roles": ["annotator"], "author_group": "", "pools": ""})
    assert not AuthorProfile.objects.filter(user=annotator).exists()
    assert set(annotator.groups.values_list("name", flat=True)) == {"annotator"}
    client.post(reverse("team:person_study_remove", args=[annotator.pk, study.pk]))
    assert not study.annotators.filter(pk=annotator.pk).exists()


def test_a_pool_joins_a_study_in_one_step(client, researcher, make_user):
    study = pairwise_study(researcher=researcher, annotators=[], prompts=3, baselines=("b",), open_it=False)
    members = [make_user("annotator") for _ in range(3)]
    for member in members:
        people.update_person(user=member, person=people.PersonInput(roles=("annotator",), pools=("crowd",)), actor=researcher)
    User.objects.filter(pk=members[2].pk).update(is_active=False)
    client.force_login(researcher)
    response = client.post(reverse("team:pool_to_study"), {"pool": "crowd", "study": study.pk})
    assert response.status_code == 302
    assert set(study.annotators.values_list("pk", flat=True)) == {members[0].pk, members[1].pk}
    assert client.post(reverse("team:pool_to_study"), {"pool": "nobody", "study": study.pk}).status_code == 422


def test_nobody_deactivates_themselves_or_the_last_researcher(client, researcher, make_user):
    other = make_user("researcher", username="researcher2")
    annotator = make_user("annotator", username="ann-gone")
    client.force_login(researcher)
    client.post(reverse("team:person_active", args=[researcher.pk]), {"active": "no"})
    researcher.refresh_from_db()
    assert researcher.is_active
    client.post(reverse("team:person_active", args=[annotator.pk]), {"active": "no"})
    annotator.refresh_from_db()
    assert not annotator.is_active
    assert not log_in(type(client)(), "ann-gone", "pw-for-tests-123")
    client.post(reverse("team:person_active", args=[other.pk]), {"active": "no"})
    other.refresh_from_db()
    assert not other.is_active
    staff = make_user(staff=True)
    with pytest.raises(Exception, match="last active researcher"):
        people.set_active(user=researcher, active=False, actor=staff)
    client.force_login(staff)
    page = client.post(reverse("team:person_active", args=[researcher.pk]), {"active": "no"}, follow=True).content.decode()
    assert "last active researcher" in page
    researcher.refresh_from_db()
    assert researcher.is_active
    client.force_login(researcher)
    client.post(reverse("team:person_active", args=[annotator.pk]), {"active": "yes"})
    annotator.refresh_from_db()
    assert annotator.is_active


def test_staff_accounts_cannot_be_changed_from_the_people_page(client, researcher, make_user):
    staff = make_user(staff=True, username="boss")
    client.force_login(researcher)
    client.post(reverse("team:person_active", args=[staff.pk]), {"active": "no"})
    staff.refresh_from_db()
    assert staff.is_active
    with pytest.raises(Exception, match="admin"):
        people.update_person(user=staff, person=people.PersonInput(roles=("annotator",)), actor=researcher)


def test_workloads_show_per_person_and_the_list_costs_the_same_for_more_people(client, researcher, make_user, author):
    example(user=author, status=Status.SUBMITTED)
    example(user=author, status=Status.APPROVED)
    annotator = make_user("annotator", username="ann-work")
    study = pairwise_study(researcher=researcher, annotators=[annotator], prompts=4, baselines=("b",))
    people.update_person(user=annotator, person=people.PersonInput(roles=("annotator",), pools=("crowd",)), actor=researcher)
    client.force_login(researcher)
    row = re.search(r'<tr data-person="author_a">(.*?)</tr>', client.get(reverse("team:people")).content.decode(), re.S).group(1)
    numbers = re.findall(r'<td class="num">(\d+)</td>', row)
    assert numbers[:3] == ["2", "1", "1"]
    detail = client.get(reverse("team:person_detail", args=[annotator.pk])).content.decode()
    assert study.name in detail and 'id="person-studies"' in detail and "In no study" not in detail

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("team:people")).status_code == 200
        return len(captured)

    before = queries()
    for i in range(15):
        user = make_user("annotator" if i % 2 else "author", group="" if i % 2 else "A")
        people.update_person(user=user, person=people.PersonInput(
            roles=("annotator",) if i % 2 else ("author",), author_group="" if i % 2 else "A", pools=("crowd",) if i % 2 else ()),
            actor=researcher)
        example(user=user, status=Status.SUBMITTED, turns=(f"Prompt {i}?", "Answer."))
    assert queries() == before


def test_a_bad_edit_names_the_field_and_changes_nothing(client, researcher, make_user):
    author = make_user("author", group="A", username="author-kept")
    client.force_login(researcher)
    for data, message in (({"roles": [], "author_group": "A"}, "This field is required"),
                          ({"roles": ["author"], "author_group": ""}, "group A"),
                          ({"roles": ["author"], "author_group": "A", "pools": "crowd"}, "pools and studies are for annotators"),
                          ({"roles": ["author"], "author_group": "A", "email": "not-an-email"}, "valid email")):
        response = client.post(reverse("team:person_detail", args=[author.pk]), data)
        assert response.status_code == 422 and message in response.content.decode(), data
    assert set(author.groups.values_list("name", flat=True)) == {"author"}
    assert AuthorProfile.objects.get(user=author).group == "A"


def test_no_invite_link_for_an_account_that_has_a_password(client, researcher, annotator):
    """A fresh set-password link for an account with a password would let a researcher take it over."""
    client.force_login(researcher)
    response = client.post(reverse("team:person_invite", args=[annotator.pk]), follow=True)
    assert "already has a password" in response.content.decode()
    assert 'id="invite-url"' not in response.content.decode()
