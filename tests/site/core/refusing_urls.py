"""The site's URLs plus pages that raise a service's refusal, for the pages' one way through."""

from django.urls import path

from accounts.services import SignInRefused
from accounts.terms import TermsNotAccepted
from portrait_site.core.pages import refusals_back_to
from portrait_site.core.status import InvalidTransition
from portrait_site.urls import urlpatterns as site_urlpatterns
from styles.models import TemplateRequest


def refuses_a_transition(request):
    raise InvalidTransition(TemplateRequest(pk=7, status="declined"), "open")


def refuses_until_terms_accepted(request):
    raise TermsNotAccepted("Accept the current terms first.")


@refusals_back_to("styles:requests")
def refuses_back_to_the_requests(request):
    raise InvalidTransition(TemplateRequest(pk=7, status="declined"), "open")


def refuses_sign_in_for_a_while(request):
    raise SignInRefused("Too many wrong passwords: wait a little.", retry_after=90)


urlpatterns = [
    path("refuses/transition/", refuses_a_transition),
    path("refuses/terms/", refuses_until_terms_accepted),
    path("refuses/back-to-requests/", refuses_back_to_the_requests),
    path("refuses/sign-in/", refuses_sign_in_for_a_while),
    *site_urlpatterns,
]
