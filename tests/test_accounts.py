"""Account pages: every user, staff or not, changes their own password from the navigation."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

pytestmark = pytest.mark.django_db

OLD = "pw-for-tests-123"
NEW = "a-new-Passphrase-481"


@pytest.mark.parametrize("role", ["author", "annotator", "researcher"])
def test_a_user_who_is_not_staff_changes_their_password(client, make_user, role):
    user = make_user(role, username=f"{role}-changing")
    assert not user.is_staff
    assert client.post(reverse("login"), {"username": user.username, "password": OLD}).status_code == 302
    home = client.get(reverse("home")).content.decode()
    assert f'href="{reverse("password_change")}"' in home

    wrong = client.post(reverse("password_change"), {"old_password": "not-it", "new_password1": NEW, "new_password2": NEW})
    assert wrong.status_code == 200 and "Your old password was entered incorrectly" in wrong.content.decode()
    weak = client.post(reverse("password_change"), {"old_password": OLD, "new_password1": "12345678", "new_password2": "12345678"})
    assert weak.status_code == 200 and "too common" in weak.content.decode()
    assert get_user_model().objects.get(pk=user.pk).check_password(OLD)

    done = client.post(reverse("password_change"), {"old_password": OLD, "new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and done["Location"] == reverse("password_change_done")
    assert "Password changed" in client.get(done["Location"]).content.decode()
    assert client.get(reverse("home")).status_code == 200  # the session survives the change
    changed = get_user_model().objects.get(pk=user.pk)
    assert changed.check_password(NEW) and not changed.check_password(OLD)


def test_the_account_pages_need_a_login(client):
    for name in ("password_change", "password_change_done"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
