"""Shared pictures are never lost: a job deleted while another request stores the same photo.

Blobs are content-addressed and shared between jobs. Before pins, deleting job J1 while a second
request had stored J1's photo but not yet created its job (it was still decoding a large photo of
the same upload) removed the photo; the second job then failed with an internal error.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.fakes import FakeEngine
from support.images import png
from support.web import client_for, wait_for

import impasto.service.jobs.core as jobs_module
from impasto.cache import sha256_bytes

PHOTO = png(40, 30, (10, 20, 30))
LARGE = png(400, 300, (90, 80, 70))
STYLE = png(32, 32, (200, 100, 50))


def _create(client: TestClient, photos: list[bytes]) -> Any:
    files = [("content", (f"p{i}.png", p, "image/png")) for i, p in enumerate(photos)]
    return client.post("/api/v1/jobs", files=[*files, ("style", ("s.png", STYLE, "image/png"))])


@pytest.mark.parametrize("order", ["delete while the upload decodes", "upload after the delete"])
def test_deleting_a_job_never_takes_a_photo_another_upload_is_storing(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, order: str
) -> None:
    stored_photo, go_on = threading.Event(), threading.Event()
    real_load = jobs_module.load_image  # type: ignore[attr-defined]

    def slow_load(data: Any, **kwargs: Any) -> Any:
        if data == LARGE:  # the upload's second photo: the first (PHOTO) is stored by now
            stored_photo.set()
            assert go_on.wait(60), "the test never let the upload go on"
        return real_load(data, **kwargs)

    monkeypatch.setattr(jobs_module, "load_image", slow_load)
    with client_for(tmp_path, db_url, FakeEngine()) as client:
        first = _create(client, [PHOTO]).json()["jobs"][0]["id"]
        assert wait_for(client, first)["status"] == "succeeded"
        answers: list[Any] = []
        upload = threading.Thread(target=lambda: answers.append(_create(client, [PHOTO, LARGE])))
        if order == "upload after the delete":
            assert client.delete(f"/api/v1/jobs/{first}").status_code == 204
            go_on.set()
            upload.start()
        else:
            upload.start()
            assert stored_photo.wait(60), "the upload did not get to its second photo"
            assert client.delete(f"/api/v1/jobs/{first}").status_code == 204
            go_on.set()
        upload.join(120)
        assert answers and answers[0].status_code == 201, answers
        second = answers[0].json()["jobs"]
        for job in second:
            assert wait_for(client, job["id"])["status"] == "succeeded", job
        photo = client.get(f"/api/v1/jobs/{second[0]['id']}/images/content")
        assert photo.status_code == 200 and sha256_bytes(photo.content) == sha256_bytes(PHOTO)


def test_a_deleted_jobs_unshared_pictures_still_go(tmp_path: Path, db_url: str) -> None:
    """Pins are released with the request: deletion still cleans up what nothing uses."""
    with client_for(tmp_path, db_url, FakeEngine()) as client:
        job = _create(client, [PHOTO]).json()["jobs"][0]["id"]
        wait_for(client, job)
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert runtime.store.exists(sha256_bytes(PHOTO))
        assert client.delete(f"/api/v1/jobs/{job}").status_code == 204
        assert not runtime.store.exists(sha256_bytes(PHOTO))
