"""Every portrait named: its take ("original 2", "re-roll 1", "more like me 1") and likeness on
the page, in the file name and in the PNG's metadata (UTF-8, so a Chinese title survives);
favourites and the zip of them."""

import io
import zipfile

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from avatars import services
from avatars.models import Avatar, Portrait, RenderJob
from tests.factories import (
    AvatarFactory,
    PortraitFactory,
    RenderJobFactory,
    StyleTemplateFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def png(colour=(120, 80, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 10), colour).save(out, format="PNG")
    return out.getvalue()


def rendered(likeness, seed) -> services.RenderedPortrait:
    return services.RenderedPortrait(png_bytes=png(), web_png_bytes=png(), seed=seed, likeness=likeness,
                                     parameters={}, width=8, height=10)


@pytest.fixture
def avatar():
    return AvatarFactory(user=UserFactory(), status=Avatar.Status.READY)


@pytest.fixture
def template():
    return StyleTemplateFactory(slug="headshot", title="Business headshot",
                                translations={"zh-hans": {"title": "商务头像"}})


def test_a_jobs_portraits_are_numbered_closest_first_and_each_take_counts_on(avatar, template):
    first = RenderJobFactory(avatar=avatar, template=template, kind=RenderJob.Kind.INITIAL)
    originals = services.portraits_create_for_job(
        job=first, renders=[rendered(61.0, 1), rendered(None, 2), rendered(83.0, 3), rendered(70.5, 4)],
        engine_label="tiny engine: not a real model",
    )
    reroll_jobs = [RenderJobFactory(avatar=avatar, template=template, kind=RenderJob.Kind.REROLL,
                                    source_portrait=originals[0]) for _ in range(2)]
    rerolls = [services.portraits_create_for_job(job=job, renders=[rendered(50.0, 10 + i)], engine_label="")[0]
               for i, job in enumerate(reroll_jobs)]
    closer = RenderJobFactory(avatar=avatar, template=template, kind=RenderJob.Kind.MORE_LIKE_ME,
                              source_portrait=originals[0])
    [more] = services.portraits_create_for_job(job=closer, renders=[rendered(90.0, 20)], engine_label="")

    assert [(p.take, p.take_number, p.likeness_score, p.seed) for p in originals] == [
        ("original", 1, 83.0, 3), ("original", 2, 70.5, 4), ("original", 3, 61.0, 1), ("original", 4, None, 2),
    ]
    assert [(p.take, p.take_number) for p in rerolls] == [("reroll", 1), ("reroll", 2)]
    assert (more.take, more.take_number, more.version, more.more_like_me_of_id) == ("more_like_me", 1, 2, originals[0].pk)
    assert Portrait.objects.filter(render_job=first).count() == 4


def test_names_on_the_page_in_the_file_name_and_in_the_png_in_the_readers_language(client, avatar, template):
    portrait = PortraitFactory(avatar=avatar, template=template, take=Portrait.Take.REROLL, take_number=2,
                               likeness_score=78.4, engine_label="tiny engine: not a real model")
    portrait.image.save("portrait.png", ContentFile(png()))
    client.force_login(avatar.user)

    english = client.get(f"/avatars/portraits/{portrait.public_id}/download/")
    chinese = client.get(f"/avatars/portraits/{portrait.public_id}/download/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    page = client.get(f"/avatars/{avatar.public_id}/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    expected_name = "likeness-tiny-engine-headshot-reroll-2-likeness-78.png"
    assert english["Content-Disposition"] == f'attachment; filename="{expected_name}"'
    assert chinese["Content-Disposition"] == english["Content-Disposition"]
    with Image.open(io.BytesIO(english.content)) as image:
        assert image.text["Title"] == "Business headshot, re-roll 2, likeness 78/100"
    with Image.open(io.BytesIO(chinese.content)) as image:
        assert image.text["Title"] == "商务头像，重新生成 2，相似度 78/100"
        assert image.text["Comment"] == "Engine: tiny engine: not a real model"
        assert image.convert("RGB").getpixel((3, 3)) == (120, 80, 60)
    assert "重新生成 2" in page and "相似度 78/100" in page


def test_favourites_are_marked_by_their_owner_only_and_download_together(client, avatar, template):
    portraits = [PortraitFactory(avatar=avatar, template=template, take_number=n, likeness_score=80 - n)
                 for n in (1, 2, 3)]
    for portrait in portraits:
        portrait.image.save("portrait.png", ContentFile(png()))
    stranger = UserFactory()
    client.force_login(stranger)
    assert client.post(f"/avatars/portraits/{portraits[1].public_id}/favourite/", {"favourite": "1"}).status_code == 404

    client.force_login(avatar.user)
    client.post(f"/avatars/portraits/{portraits[1].public_id}/favourite/", {"favourite": "1"})
    answer = client.post(f"/avatars/portraits/{portraits[2].public_id}/favourite/", {"favourite": "1"},
                         HTTP_ACCEPT="application/json")
    client.post(f"/avatars/portraits/{portraits[2].public_id}/favourite/", {"favourite": "0"})
    favourites = client.get(f"/avatars/{avatar.public_id}/portraits.zip", {"favourites": "1"})
    everything = client.get(f"/avatars/{avatar.public_id}/portraits.zip")

    assert answer.json() == {"favourite": True}
    assert [p.pk for p in Portrait.objects.filter(is_favourite=True)] == [portraits[1].pk]
    assert zipfile.ZipFile(io.BytesIO(favourites.getvalue())).namelist() == ["likeness-headshot-original-2-likeness-78.png"]
    assert zipfile.ZipFile(io.BytesIO(everything.getvalue())).namelist() == [
        f"likeness-headshot-original-{n}-likeness-{80 - n}.png" for n in (1, 2, 3)
    ]
    assert 'filename="likeness-' in favourites["Content-Disposition"] and "favourites.zip" in favourites["Content-Disposition"]
