"""Seed Label Studio's accounts for the anchor comparison; runs with Label Studio's own Python (its virtualenv).

Creates (once) the organization's owner and `annotators` annotator accounts in one organization, each with an
API token, and prints them as JSON. The project and its tasks are then made through Label Studio's HTTP API by
bench/anchor.py, the way a user of Label Studio makes them. Nothing from lima-studio is imported here.
"""

import json
import os
import pathlib
import sys


def main(annotators: int) -> None:
    import label_studio

    sys.path.insert(0, str(pathlib.Path(label_studio.__file__).parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "label_studio.core.settings.label_studio")
    os.environ.setdefault("LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN", "true")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--no-color", verbosity=0)
    from organizations.models import Organization
    from rest_framework.authtoken.models import Token
    from users.models import User

    owner, created = User.objects.get_or_create(email="owner@anchor.local", defaults={"username": "owner", "is_staff": True,
                                                                                    "is_superuser": True})
    org = Organization.objects.first() or Organization.create_organization(created_by=owner, title="Anchor",
                                                                         legacy_api_tokens_enabled=True)
    org.jwt.legacy_api_tokens_enabled = True
    org.jwt.save()
    accounts = []
    for user in [owner] + [User.objects.get_or_create(email=f"anchor-{i}@anchor.local", defaults={"username": f"anchor-{i}"})[0]
                           for i in range(annotators)]:
        if not org.has_user(user):
            org.add_user(user)
        user.active_organization = org
        user.save(update_fields=["active_organization"])
        accounts.append(Token.objects.get_or_create(user=user)[0].key)
    print(json.dumps({"owner_token": accounts[0], "annotator_tokens": accounts[1:]}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
