"""Votes on template requests: one per person, refused with a reason once closed, rate limited, and the ranking they make."""

import threading

import pytest
from django.db import IntegrityError, close_old_connections, connection, transaction

from styles import services
from styles.models import TemplateRequest, TemplateVote
from styles.selectors import template_request_list_ranked, template_request_position
from styles.services import (
    VoteRateLimited,
    VoteRefused,
    template_request_vote_set,
    template_request_vote_toggle,
)
from tests.factories import TemplateRequestFactory, TemplateVoteFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_vote_toggle_casts_then_takes_back():
    request = TemplateRequestFactory()
    voter = UserFactory()
    assert template_request_vote_toggle(user=voter, request_id=request.pk) == (True, 1)
    assert template_request_vote_toggle(user=voter, request_id=request.pk) == (False, 0)
    assert template_request_vote_toggle(user=voter, request_id=request.pk) == (True, 1)


def test_setting_the_same_vote_twice_records_one_vote():
    request = TemplateRequestFactory()
    voter = UserFactory()
    template_request_vote_set(user=voter, request_id=request.pk, voted=True)
    assert template_request_vote_set(user=voter, request_id=request.pk, voted=True) == (True, 1)
    assert TemplateVote.objects.filter(request=request).count() == 1


@pytest.mark.parametrize("status, reason", [
    (TemplateRequest.Status.DECLINED, "declined"),
    (TemplateRequest.Status.SHIPPED, "shipped"),
])
def test_votes_on_declined_or_shipped_requests_are_refused_with_a_reason(status, reason):
    request = TemplateRequestFactory(status=status)
    with pytest.raises(VoteRefused, match=reason):
        template_request_vote_toggle(user=UserFactory(), request_id=request.pk)
    assert not TemplateVote.objects.exists()


def test_vote_storms_are_rate_limited_per_user():
    requests = TemplateRequestFactory.create_batch(2)
    storm, calm = UserFactory(), UserFactory()
    for _ in range(services.VOTE_ACTIONS_PER_MINUTE):
        template_request_vote_toggle(user=storm, request_id=requests[0].pk)
    with pytest.raises(VoteRateLimited):
        template_request_vote_toggle(user=storm, request_id=requests[1].pk)
    assert not TemplateVote.objects.filter(user=storm, request=requests[1]).exists()
    assert template_request_vote_toggle(user=calm, request_id=requests[1].pk) == (True, 1)


def test_ranking_is_votes_first_then_oldest_first_and_hides_closed_requests():
    old_one_vote = TemplateRequestFactory(title="Old, one vote")
    three_votes = TemplateRequestFactory(title="Three votes")
    new_one_vote = TemplateRequestFactory(title="New, one vote")
    TemplateRequestFactory(title="Declined", status=TemplateRequest.Status.DECLINED)
    TemplateRequestFactory(title="Shipped", status=TemplateRequest.Status.SHIPPED)
    TemplateVoteFactory.create_batch(3, request=three_votes)
    TemplateVoteFactory(request=old_one_vote)
    TemplateVoteFactory(request=new_one_vote)
    ranked = list(template_request_list_ranked())
    assert [r.title for r in ranked] == ["Three votes", "Old, one vote", "New, one vote"]
    assert [r.vote_count for r in ranked] == [3, 1, 1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_double_votes_record_one_vote():
    request = TemplateRequestFactory()
    voter = UserFactory()
    start = threading.Barrier(6)
    outcomes, errors = [], []

    def vote():
        try:
            start.wait()
            outcomes.append(template_request_vote_set(user=voter, request_id=request.pk, voted=True))
        except Exception as error:  # noqa: BLE001 - the assertion below reports it
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=vote) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert outcomes == [(True, 1)] * 6
    assert TemplateVote.objects.filter(request=request, user=voter).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_database_constraint_stops_concurrent_duplicate_inserts():
    request = TemplateRequestFactory()
    voter = UserFactory()
    start = threading.Barrier(2)
    refused = []

    def insert():
        try:
            start.wait()
            with transaction.atomic():
                TemplateVote.objects.create(user=voter, request=request)
        except IntegrityError:
            refused.append(True)
        finally:
            connection.close()

    threads = [threading.Thread(target=insert) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert refused == [True]
    assert TemplateVote.objects.filter(request=request, user=voter).count() == 1



def test_the_position_of_a_request_follows_the_ranking():
    ranked_titles = ["Most", "Tie older", "Tie newer", "Least"]
    made = {title: TemplateRequestFactory(title=title) for title in ranked_titles}
    TemplateVoteFactory.create_batch(3, request=made["Most"])
    TemplateVoteFactory.create_batch(2, request=made["Tie older"])
    TemplateVoteFactory.create_batch(2, request=made["Tie newer"])
    declined = TemplateRequestFactory(title="Declined", status=TemplateRequest.Status.DECLINED)

    assert [template_request_position(request_id=made[t].pk) for t in ranked_titles] == [1, 2, 3, 4]
    assert template_request_position(request_id=declined.pk) is None
