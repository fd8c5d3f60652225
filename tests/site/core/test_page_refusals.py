"""A service's ApplicationError under a page answers with its status and message, never a 500."""

import pytest
from django.contrib.messages import get_messages

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.site.core.refusing_urls")]

TRANSITION_MESSAGE = "TemplateRequest 7: cannot go from 'declined' to 'open'"


def test_a_refusal_under_a_page_is_an_error_page_with_its_status_and_message(client):
    response = client.get("/refuses/transition/")
    assert response.status_code == 409
    assert TRANSITION_MESSAGE.replace("'", "&#x27;") in response.content.decode()
    assert "This can't be done" in response.content.decode()


def test_the_error_page_speaks_the_readers_language(client):
    response = client.get("/refuses/transition/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 409
    assert "无法完成" in response.content.decode()


def test_a_form_posted_from_a_page_goes_back_to_it_with_the_message(client):
    response = client.post("/refuses/transition/", HTTP_REFERER="http://testserver/avatars/")
    assert response.status_code == 302
    assert response["Location"] == "/avatars/"
    assert [m.message for m in get_messages(response.wsgi_request)] == [TRANSITION_MESSAGE]


def test_a_referer_from_another_site_is_not_followed(client):
    response = client.post("/refuses/transition/", HTTP_REFERER="https://elsewhere.example/")
    assert response.status_code == 409


def test_a_script_asking_for_json_gets_the_apis_error_body(client):
    response = client.post("/refuses/transition/", HTTP_ACCEPT="application/json")
    assert response.status_code == 409
    assert response.json() == {"error": {"code": "conflict", "message": TRANSITION_MESSAGE}}


def test_a_refusal_that_needs_a_step_sends_the_person_there_and_back(client):
    response = client.post("/refuses/terms/", HTTP_REFERER="http://testserver/avatars/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/terms/accept/?next=%2Favatars%2F"


def test_a_view_marked_refusals_back_to_sends_the_person_there_without_a_referer(client):
    response = client.post("/refuses/back-to-requests/")
    assert response.status_code == 302
    assert response["Location"] == "/styles/requests/"
    assert [m.message for m in get_messages(response.wsgi_request)] == [TRANSITION_MESSAGE]


def test_a_refusal_with_a_page_of_its_own_is_that_page_with_its_status_and_headers(client):
    response = client.post("/refuses/sign-in/", HTTP_REFERER="http://testserver/accounts/login/")
    assert response.status_code == 429
    assert response["Retry-After"] == "90"
    assert "Too many wrong passwords: wait a little." in response.content.decode()
    assert "Too many attempts" in response.content.decode()


def test_a_script_asking_for_json_gets_the_refusals_headers_too(client):
    response = client.post("/refuses/sign-in/", HTTP_ACCEPT="application/json")
    assert response.status_code == 429
    assert response["Retry-After"] == "90"
    assert response.json()["error"]["code"] == "throttled"
