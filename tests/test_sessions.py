"""Who is asking (lima_site/sessions.py): the session row and the user with their roles, read by written-out SQL,
answer what Django's own database store and ModelBackend answer: the same user, the same roles as the groups
say, nobody for an expired session, an unknown key, a deleted or deactivated user; in two queries per request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from lima_site import roles, sessions

pytestmark = pytest.mark.django_db


def test_the_user_and_their_roles_are_the_orm_s(make_user):
    user = make_user("annotator")
    user.groups.add(Group.objects.get(name="researcher"), Group.objects.get_or_create(name="not-a-role")[0])
    loaded = sessions.ModelBackend().get_user(user.pk)
    assert loaded == user and type(loaded) is type(user)
    fields = [field.attname for field in type(user)._meta.concrete_fields]
    fresh = type(user).objects.get(pk=user.pk)
    assert [getattr(loaded, name) for name in fields] == [getattr(fresh, name) for name in fields]
    assert loaded.last_login is None and fresh.date_joined.tzinfo is not None and loaded.date_joined == fresh.date_joined
    assert roles.user_roles(loaded) == {"annotator", "researcher"} == roles.user_roles(fresh)
    nobody = make_user()
    assert roles.user_roles(sessions.ModelBackend().get_user(nobody.pk)) == frozenset()


def test_a_deleted_or_deactivated_user_is_nobody(make_user):
    gone, inactive = make_user("annotator"), make_user("annotator")
    gone_pk = gone.pk
    gone.delete()
    inactive.is_active = False
    inactive.save()
    assert sessions.ModelBackend().get_user(gone_pk) is None
    assert sessions.ModelBackend().get_user(inactive.pk) is None


def test_the_session_row_is_django_s_and_an_expired_one_is_none():
    store = sessions.SessionStore()
    store["answer"] = 42
    store.save()
    key = store.session_key
    assert sessions.SessionStore(key).load() == DjangoSessionStore(key).load() == {"answer": 42}
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    expired = sessions.SessionStore(key)
    assert expired.load() == {} and expired.session_key is None
    assert sessions.SessionStore("no-such-key-0123456789abcdef").load() == {}


def test_a_page_asks_for_the_session_and_the_user_once_each(client, make_user):
    annotator = make_user("annotator")
    client.force_login(annotator)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(reverse("evaluation:judge_home")).status_code == 200
    session_table, user_table = Session._meta.db_table, type(annotator)._meta.db_table
    who = [query["sql"] for query in captured.captured_queries if session_table in query["sql"] or f'"{user_table}"' in query["sql"]]
    assert len([sql for sql in who if session_table in sql]) == 1, who
    assert len([sql for sql in who if f'"{user_table}" u WHERE' in sql]) == 1, who
    assert not any("auth_group" in query["sql"] and "auth_user\" u" not in query["sql"] for query in captured.captured_queries)


def test_logging_out_ends_the_session(client, make_user):
    annotator = make_user("annotator")
    client.force_login(annotator)
    assert client.get(reverse("evaluation:judge_home")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("evaluation:judge_home")).status_code == 302
