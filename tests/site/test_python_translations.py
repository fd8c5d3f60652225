"""What Python says to a person reads in their language: a photo's verdict, a job's stage, an
API error, a form error, the admin's own labels. The words are chosen when they are read
(the stored rows hold codes and figures), so the same row reads in English to one reader
and in Chinese to another."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation
from rest_framework.test import APIClient

from avatars.engine.intake import REASON_CODES
from avatars.engine.photo_files import WHAT_CODES
from avatars.gpu.job_stages import STAGE_WITH_FIGURE_WORDS, STAGE_WORDS, job_stage_words
from avatars.models import Avatar, Photo, TrainingJob
from avatars.photo_verdicts import SENTENCES, WHAT, verdict_sentence
from tests.factories import AvatarFactory, PhotoFactory, UserFactory

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
TWO_PEOPLE_ZH = "照片里只能有一个人，但我们找到了 2 张人脸。请使用你的单人照，或把其他人裁掉。"
TWO_PEOPLE_EN = "Only one person should be in the photo: we found 2 faces."
NOT_A_PICTURE_ZH = "这个文件不是我们能读取的照片（它的内容不是图片）。"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_every_reason_the_engine_gives_has_a_sentence_in_both_languages():
    assert set(SENTENCES) == set(REASON_CODES) and set(WHAT) == set(WHAT_CODES)
    for code in REASON_CODES:
        with translation.override("en"):
            english = verdict_sentence(code, {"count": 2, "width": 320, "height": 240, "min_side": 512,
                                              "size_mb": 30.0, "limit_mb": 25.0, "pixels": 10**9, "what": "pdf"})
        with translation.override("zh-hans"):
            chinese = verdict_sentence(code, {"count": 2, "width": 320, "height": 240, "min_side": 512,
                                              "size_mb": 30.0, "limit_mb": 25.0, "pixels": 10**9, "what": "pdf"})
        assert english[0].isupper() and english.endswith("."), (code, english)
        assert chinese != english and chinese.endswith("。"), (code, chinese)


def test_a_real_intake_refusal_reads_in_chinese_on_the_page_and_in_the_api_and_in_english_for_others(faces_dir):
    user = UserFactory()
    avatar = AvatarFactory(user=user)
    two_people = (faces_dir / "multi" / "obama_and_biden.jpg").read_bytes()

    uploaded = signed_in(user).post(
        reverse("avatars:photo_upload", args=[avatar.public_id]),
        {"photos": [SimpleUploadedFile("two.jpg", two_people, content_type="image/jpeg")]}, **ZH,
    )
    by_api = api_client(user).post(
        f"/api/v1/avatars/{avatar.public_id}/photos/",
        {"photos": [SimpleUploadedFile("notes.txt", b"not a picture", content_type="text/plain")]},
        format="multipart", **ZH,
    )

    assert uploaded.status_code == 201, uploaded.content
    [verdict] = uploaded.json()["results"]
    assert (verdict["reason_code"], verdict["reason"]) == ("several_faces", TWO_PEOPLE_ZH)
    [api_verdict] = by_api.json()["results"]
    assert api_verdict["reason_code"] == "not_an_image" and api_verdict["reason"].startswith(NOT_A_PICTURE_ZH)
    # Stored as a code and its figures, worded again for each reader.
    stored = Photo.objects.get(avatar=avatar, original_name="two.jpg")
    assert (stored.reason_code, stored.reason_details) == ("several_faces", {"count": 2})
    assert TWO_PEOPLE_ZH in signed_in(user).get(reverse("avatars:detail", args=[avatar.public_id]), **ZH).content.decode()
    assert TWO_PEOPLE_EN in signed_in(user).get(reverse("avatars:detail", args=[avatar.public_id]), **EN).content.decode()
    detail = api_client(user).get(f"/api/v1/avatars/{avatar.public_id}/", **ZH).json()
    assert TWO_PEOPLE_ZH in [photo["reason"] for photo in detail["refused_photos"]]


def test_a_training_stage_reads_in_chinese_on_the_progress_poll_and_the_api():
    user = UserFactory()
    avatar = AvatarFactory(user=user, status=Avatar.Status.TRAINING)
    TrainingJob.objects.create(avatar=avatar, status="running", progress=40, stage="likeness:78")
    page_poll = reverse("avatars:progress", args=[avatar.public_id])

    website = signed_in(user).get(page_poll, **ZH)
    api = api_client(user).get(f"/api/v1/avatars/{avatar.public_id}/progress/", **ZH).json()
    english = signed_in(user).get(page_poll, **EN)

    [job] = website.json()["jobs"]
    assert (job["label"], job["stage"]) == ("正在训练你的数字分身", "正在学习你的面部特征：相似度 78")
    assert api["jobs"][0]["stage"] == "正在学习你的面部特征：相似度 78"
    assert english.json()["jobs"][0]["stage"] == "learning your face: likeness 78"
    # The ETag is of the words: an answer in another language is never a 304 of the first.
    assert english["ETag"] != website["ETag"]
    assert signed_in(user).get(page_poll, HTTP_IF_NONE_MATCH=english["ETag"], **ZH).status_code == 200


def test_every_stage_the_worker_writes_has_words_and_an_old_worded_stage_reads_as_written():
    with translation.override("en"):
        english = {code: job_stage_words(code) for code in STAGE_WORDS}
        assert (job_stage_words("training again"), job_stage_words("training_again")) == ("training again",) * 2
    with translation.override("zh-hans"):
        chinese = {code: job_stage_words(code) for code in STAGE_WORDS}
    assert all(chinese[code] != english[code] for code in STAGE_WORDS), chinese
    assert english["no_closer_version"] == "no closer version found"
    assert set(STAGE_WITH_FIGURE_WORDS) == {"likeness"}


def test_an_api_error_reads_in_chinese():
    user = UserFactory()
    paid = AvatarFactory(user=user, status=Avatar.Status.PAID)
    client = api_client(user)

    refused = client.post(
        f"/api/v1/avatars/{paid.public_id}/photos/",
        {"photos": [SimpleUploadedFile("a.jpg", b"x", content_type="image/jpeg")]}, format="multipart", **ZH,
    )
    missing = client.get(f"/api/v1/avatars/{AvatarFactory().public_id}/", **ZH)

    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == "这个数字分身已付款，照片不能再更改。"
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "未找到：它不存在，或不属于你。"


def test_a_form_error_reads_in_chinese():
    response = Client().post(reverse("accounts:signup"), {
        "email": "new@example.com", "password1": "a long pass phrase 42", "password2": "a long pass phrase 42",
    }, **ZH)

    assert "请勾选此框，以接受服务条款和隐私说明。" in response.content.decode()  # the unticked terms box


def test_the_admin_reads_in_chinese_for_a_chinese_speaking_operator():
    operator = signed_in(UserFactory(is_staff=True, is_superuser=True))
    photo = PhotoFactory(status=Photo.Status.REJECTED, reason_code="blurry")
    TrainingJob.objects.create(avatar=photo.avatar, status="failed")

    photos = operator.get("/admin/avatars/photo/", **ZH).content.decode()
    jobs = operator.get("/admin/avatars/trainingjob/", **ZH).content.decode()

    assert "拒绝原因" in photos and "质量" in photos  # the project's own column titles
    assert "重试所选的失败任务" in jobs  # its action
    assert "训练任务" in jobs  # the model's name


def test_why_a_training_failed_reads_in_the_readers_language():
    from avatars.gpu.jobs import JobFailedForGood

    user = UserFactory()
    avatar = AvatarFactory(user=user, status=Avatar.Status.FAILED)
    failure = JobFailedForGood(
        "We could not learn your likeness well enough from these photos (best %(best)s of 100, "
        "%(needed)s needed), even on a second try.", {"best": "41", "needed": "60"},
    )
    TrainingJob.objects.create(avatar=avatar, status="failed", failure_reason=str(failure),
                               failure_reason_parts={"message": failure.message, "params": failure.params})
    poll = reverse("avatars:progress", args=[avatar.public_id])

    chinese = signed_in(user).get(poll, **ZH).json()["failure_reason"]
    english = api_client(user).get(f"/api/v1/avatars/{avatar.public_id}/progress/", **EN).json()["failure_reason"]

    assert english == str(failure) and english.startswith("We could not learn your likeness well enough")
    assert "41" in chinese and "60" in chinese and chinese.endswith("。")
