import pytest


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # The default PBKDF2 costs most of a second per hash on a small machine; what is tested
    # here is the flow around the password, not the hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
