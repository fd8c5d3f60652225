"""The API tests' fixtures here: the API clients (tests.api_clients) and Stripe's HTTP fake."""

from tests.api_clients import anonymous, api, api_settings, owned, throttle_rate, user  # noqa: F401  (pytest fixtures)
from tests.stripe_fake import fake_stripe  # noqa: F401  (a pytest fixture)
