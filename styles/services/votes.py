"""Votes on template requests: one per person and request, cast or taken back, refused once a request is closed."""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from portrait_site.core.errors import ApplicationError
from portrait_site.core.rate_limits import rate_limit_hit
from styles.models import TemplateRequest, TemplateVote
from styles.selectors import template_request_list_changed

VOTE_ACTIONS_PER_MINUTE = 30


class VoteRefused(ApplicationError):
    """A vote the request cannot take; the message says why, in words a person reads."""

    code = "vote_refused"


class VoteRateLimited(VoteRefused):
    code = "throttled"
    http_status = 429


def _vote_rate_check(*, user) -> None:
    if rate_limit_hit(key=f"votes:{user.pk}", limit=VOTE_ACTIONS_PER_MINUTE):
        raise VoteRateLimited(_("That is a lot of voting in one minute. Wait a moment and try again."))


def _refusal_reason(request: TemplateRequest) -> str:
    if request.status == TemplateRequest.Status.SHIPPED:
        return _("This style has shipped: it is in the gallery now, and votes are closed.")
    return _("This request was declined, so it no longer takes votes.")


def template_request_vote_set(*, user, request_id: int, voted: bool) -> tuple[bool, int]:
    """Cast (voted=True) or take back (voted=False) the user's vote; idempotent.

    Returns (voted, vote_count). Raises VoteRefused for declined or shipped requests
    and VoteRateLimited for a storm of vote actions.
    """
    _vote_rate_check(user=user)
    with transaction.atomic():
        request = TemplateRequest.objects.select_for_update().get(pk=request_id)
        if not request.accepts_votes:
            raise VoteRefused(_refusal_reason(request))
        if voted:
            try:
                # The unique constraint, not this code, decides: a second insert of the
                # same vote fails there however the two requests interleave.
                with transaction.atomic():
                    TemplateVote.objects.create(user=user, request=request)
            except IntegrityError:
                pass
        else:
            TemplateVote.objects.filter(user=user, request=request).delete()
        transaction.on_commit(template_request_list_changed)
        return voted, TemplateVote.objects.filter(request=request).count()


def template_request_vote_toggle(*, user, request_id: int) -> tuple[bool, int]:
    """Vote for the request, or take the vote back if the user has one on it. Returns (voted, vote_count)."""
    has_voted = TemplateVote.objects.filter(user=user, request_id=request_id).exists()
    return template_request_vote_set(user=user, request_id=request_id, voted=not has_voted)
