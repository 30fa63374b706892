"""Who is asking, read the way every request reads it: the session row, then the user with their roles.

Django reads both through the ORM on every request: building and compiling `Session.objects.get(...)` and
`User.objects.get(pk=...)` costs more than running them on SQLite, and the roles were a third query. A verdict
is the product's most frequent request (bench/anchor.py), so these two reads are written once, as the judging
path's are (lima_site/sql.py: the ORM's converters, the ORM's instances), and the user's role groups come in
the same statement as the user. Everything else is Django's: the session's encoding, expiry, saving and
rotation (`SessionStore` is Django's database store with one method replaced), and login, permissions and
`user_can_authenticate` (`ModelBackend` is Django's with `get_user` replaced).

settings.SESSION_ENGINE = "lima_site.sessions"; AUTHENTICATION_BACKENDS names `lima_site.sessions.ModelBackend`.
"""

from __future__ import annotations

import logging
from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import SuspiciousOperation
from django.db import connection
from django.utils import timezone

from lima_site import sql
from lima_site.roles import ROLES, role_groups_sql


@cache
def _session_sql(model, vendor: str) -> str:
    del vendor  # the cache key: quoting differs between databases
    quote = connection.ops.quote_name
    return (f"SELECT {sql.columns(model, 's')} FROM {sql.table(model)} s "
            f"WHERE s.{quote('session_key')} = %s AND s.{quote('expire_date')} > %s")


class SessionStore(DatabaseSessionStore):
    """Django's database session store; the row is read by a written-out SELECT."""

    def _get_session_from_db(self):
        model = self.model
        try:
            rows = sql.fetch(_session_sql(model, connection.vendor),
                             [self.session_key, sql.db_value(model, "expire_date", timezone.now())])
        except SuspiciousOperation as exc:  # as Django's store: logged, and the request has no session
            logging.getLogger(f"django.security.{exc.__class__.__name__}").warning(str(exc))
            rows = []
        if not rows:
            self._session_key = None
            return None
        return sql.instance(model, rows[0])


@cache
def _user_sql(user_model, vendor: str) -> str:
    """The user and, in one text column, the names of their role groups joined by commas (no role has one)."""
    quote = connection.ops.quote_name
    joined = "string_agg" if vendor == "postgresql" else "group_concat"
    user_id = f"u.{quote(user_model._meta.pk.column)}"
    return (f"SELECT {sql.columns(user_model, 'u')}, (SELECT {joined}(g.{quote('name')}, ',') "
            f"{role_groups_sql(user_model, user_id)}) FROM {sql.table(user_model)} u WHERE {user_id} = %s")


class ModelBackend(DjangoModelBackend):
    """Django's ModelBackend; `get_user` (every request) reads the user and their roles in one statement."""

    def get_user(self, user_id):
        user_model = get_user_model()
        rows = sql.fetch(_user_sql(user_model, connection.vendor), [*sorted(ROLES), sql.db_value(user_model, user_model._meta.pk.name, user_id)])
        if not rows:
            return None
        user = sql.instance(user_model, rows[0])
        user._lima_roles = frozenset(filter(None, (rows[0][-1] or "").split(",")))  # what roles.user_roles reads
        return user if self.user_can_authenticate(user) else None
