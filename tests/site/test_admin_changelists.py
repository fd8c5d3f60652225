"""Every admin changelist loads with data, in a pinned number of queries whatever the row count."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import (
    OrderFactory,
    PhotoFactory,
    PortraitFactory,
    RenderJobFactory,
    StyleTemplateFactory,
    TemplateVoteFactory,
    TrainingJobFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# Queries per changelist page besides reading the session: user, count(s), the page, SQL annotations.
PINNED_QUERIES = {
    "accounts.user": 4,
    "accounts.notice": 4,
    "accounts.deletionreceipt": 5,
    "avatars.avatar": 4,
    "avatars.photo": 5,
    "avatars.trainingjob": 5,
    "avatars.renderjob": 6,
    "avatars.portrait": 6,
    "orders.order": 7,
    "orders.stripeevent": 6,
    "orders.refund": 4,
    "styles.styletemplate": 4,
    "styles.templaterequest": 4,
    "styles.templatevote": 4,
    "django_q.success": 6,
    "django_q.failure": 6,
    "django_q.schedule": 5,
    "django_q.ormq": 5,
    "authtoken.tokenproxy": 4,
    "auth.group": 4,
}


def make_rows(count: int) -> None:
    from accounts.notices import notice_create

    for _ in range(count):
        order = OrderFactory(status="paid", stripe_payment_intent_id="pi_x")
        PhotoFactory(avatar=order.avatar)
        TrainingJobFactory(avatar=order.avatar, order=order, gpu_seconds=90)
        RenderJobFactory(avatar=order.avatar)
        PortraitFactory(avatar=order.avatar, template=StyleTemplateFactory())
        TemplateVoteFactory()
        notice_create(user=order.user, message="A style you voted for is out")


def changelist_queries(client, model_admin) -> tuple[int, int]:
    meta = model_admin.model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


def test_every_changelist_is_pinned():
    registered = {f"{m._meta.app_label}.{m._meta.model_name}" for m in admin.site._registry}
    assert registered == set(PINNED_QUERIES)


@pytest.mark.parametrize("label", sorted(PINNED_QUERIES))
def test_changelist_query_count_is_pinned_and_constant(client, label, session_read_queries):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    model_admin = next(a for m, a in admin.site._registry.items()
                       if f"{m._meta.app_label}.{m._meta.model_name}" == label)
    make_rows(2)
    few = changelist_queries(client, model_admin)
    make_rows(5)
    many = changelist_queries(client, model_admin)

    assert few == many == PINNED_QUERIES[label] + session_read_queries, (few, many)


def test_job_changelist_shows_gpu_minutes_spent(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    make_rows(2)

    response = client.get(reverse("admin:avatars_trainingjob_changelist"))

    assert "GPU time for these jobs: 3.0 minutes" in response.content.decode()
