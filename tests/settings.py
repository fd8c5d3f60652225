"""The test suite's settings: the site's own, on a secret key made for this run.

The site refuses to start with DEBUG off on no key or on the built-in one (portrait_site.settings),
and the tests run with DEBUG off, as production does. pytest-django loads this module before any
conftest, so the key is set here, in the environment: every process a test starts (manage.py,
workers, run.sh) inherits it. A key set already (DJANGO_SECRET_KEY) is kept.
"""

import os
import secrets

os.environ.setdefault("DJANGO_SECRET_KEY", "likeness-test-run-" + secrets.token_urlsafe(40))

from portrait_site.settings import *  # noqa: E402, F403
