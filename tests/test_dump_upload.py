"""Dumps uploaded from the browser: streamed to disk under the dumps folder, size-limited, validated, imported."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation.models import Example, ImportJob
from annotation.tasks import run_import_job
from tests.dumps import answer, question, write_site

pytestmark = pytest.mark.django_db
URL = "annotation:import_upload"


@pytest.fixture
def dumps(settings, tmp_path):
    settings.LIMA_DUMPS_DIR = tmp_path / "dumps"
    settings.LIMA_DUMPS_DIR.mkdir()
    return settings.LIMA_DUMPS_DIR


@pytest.fixture
def site_files(tmp_path):
    folder = write_site(tmp_path / "src", "anything", [question(1, "Why is the sky blue during the day?"), answer(2, 1, owner="22")],
                        users=[{"Id": "22", "DisplayName": "Grace"}])
    return {name: (folder / name).read_bytes() for name in ("Posts.xml", "Users.xml")}


def upload(client, *, files: dict[str, bytes], kind="stackexchange", site="physics.stackexchange.com", parameters=""):
    return client.post(reverse(URL), {"kind": kind, "site": site, "parameters": parameters,
                                      "files": [SimpleUploadedFile(name, data) for name, data in files.items()]})


def stored(dumps: Path) -> list[Path]:
    return sorted(path for path in dumps.rglob("*") if path.is_file())


def test_an_uploaded_site_is_stored_under_the_dumps_folder_and_imported(client, researcher, dumps, site_files):
    client.force_login(researcher)
    response = upload(client, files=site_files)
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("annotation:import_job", args=[job.pk])
    assert job.path.startswith("uploads/") and job.parameters == {"site": "physics.stackexchange.com"}
    folder = dumps / job.path / "physics.stackexchange.com"
    assert {path.name for path in folder.iterdir()} == {"Posts.xml", "Users.xml"}
    assert (folder / "Posts.xml").read_bytes() == site_files["Posts.xml"]
    run_import_job.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == ImportJob.State.SUCCEEDED and job.created_count == 1
    example = Example.objects.get()
    assert example.provenance["community"] == "physics.stackexchange.com" and example.provenance["author"] == "Grace"


@pytest.mark.parametrize("files, site, field, message", [
    ({"Posts.xml": b"<posts/>"}, "", "site", "name the site these files come from"),
    ({"posts.json": b"{}"}, "physics.stackexchange.com", "files", "'posts.json' is not a file this importer reads"),
    ({"Users.xml": b"<users/>"}, "physics.stackexchange.com", "files", "needs the site's Posts.xml"),
    ({}, "physics.stackexchange.com", "files", "choose the dump file(s) to upload"),
])
def test_a_refused_upload_names_the_field_and_stores_nothing(client, researcher, dumps, files, site, field, message):
    client.force_login(researcher)
    response = upload(client, files=files, site=site)
    assert response.status_code == 422
    assert message in " ".join(response.context["upload_form"].errors[field])
    assert stored(dumps) == [] and not ImportJob.objects.exists()


def test_a_dump_over_the_upload_limit_is_refused_with_its_size(client, researcher, dumps, site_files, settings):
    settings.LIMA_MAX_DUMP_UPLOAD_BYTES = 100
    client.force_login(researcher)
    response = upload(client, files=site_files)
    assert response.status_code == 422
    errors = " ".join(response.context["upload_form"].errors["files"])
    assert f"Posts.xml is {len(site_files['Posts.xml']):,} bytes, over the 100 an uploaded dump may be" in errors
    assert stored(dumps) == [] and not ImportJob.objects.exists()


def test_bad_parameters_refuse_the_upload_before_it_is_stored(client, researcher, dumps, site_files):
    client.force_login(researcher)
    response = upload(client, files=site_files, parameters='{"stem_target": "many"}')
    assert response.status_code == 422 and "stem_target" in response.content.decode()
    response = upload(client, files=site_files, parameters="[1, 2]")
    assert response.status_code == 422 and "give a JSON object" in response.content.decode()
    assert stored(dumps) == [] and not ImportJob.objects.exists()


def test_other_importers_take_their_own_files(client, researcher, dumps):
    client.force_login(researcher)
    response = upload(client, kind="wikihow", site="", files={"wikihow.csv": b"title,text\n"})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and (dumps / job.path / "wikihow.csv").is_file() and job.parameters == {}


def test_only_curators_may_upload(client, annotator, dumps, site_files):
    assert upload(client, files=site_files).status_code == 302  # anonymous: to the login page
    client.force_login(annotator)
    assert upload(client, files=site_files).status_code == 403
    assert stored(dumps) == []


def test_the_upload_is_csrf_protected(researcher, dumps, site_files):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(researcher)
    assert upload(client, files=site_files).status_code == 403
    assert stored(dumps) == []
