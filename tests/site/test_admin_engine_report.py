"""The admin index says which base model the GPU workers run, as their last finished job reported it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from avatars.models import Portrait
from avatars.selectors import engine_report_latest
from tests.factories import AvatarFactory, PortraitFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_newest_finished_job_names_the_model():
    assert engine_report_latest() is None

    now = timezone.now()
    AvatarFactory(engine_label="/models/old.safetensors", trained_at=now - timedelta(days=2))
    AvatarFactory(engine_label="", trained_at=now)
    portrait = PortraitFactory(engine_label="/models/realistic-v6.safetensors")
    Portrait.objects.filter(pk=portrait.pk).update(created_at=now - timedelta(hours=1))
    report = engine_report_latest()
    assert (report.engine_label, report.job_kind) == ("/models/realistic-v6.safetensors", "rendering")

    AvatarFactory(engine_label="/models/realistic-v7.safetensors", trained_at=now - timedelta(minutes=5))
    report = engine_report_latest()
    assert (report.engine_label, report.job_kind) == ("/models/realistic-v7.safetensors", "training")


def test_the_admin_index_shows_it(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    before = client.get(reverse("admin:index"))
    AvatarFactory(engine_label="tiny engine: not a real model", trained_at=timezone.now())
    after = client.get(reverse("admin:index"))

    assert before.status_code == after.status_code == 200
    assert "No job has finished yet" in before.content.decode()
    page = after.content.decode()
    assert "Base model on the GPU workers" in page
    assert "<strong>tiny engine: not a real model</strong>, as the last training job reported it" in page
    # The usual index is still there below it.
    assert reverse("admin:avatars_avatar_changelist") in page
