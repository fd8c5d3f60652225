"""Likeness settings, read from the environment: the parts below, gathered under one module name.

Every variable has an embedded default, so a fresh checkout runs with none set: SQLite, the
django-q2 ORM broker, private media under var/, console email and the tiny engine. What each
variable does, and its default, is written once, in the README's "Configuration" table; the
comments in these modules say only why a value or an order is as it is.

The parts: ``base`` (where the site lives, its key, apps and pages), ``storage`` (database,
cache, files, mail), ``security`` (accounts, sign-in limits, cookies and headers), ``product``
(the offer's limits, terms, Stripe, the API) and ``jobs`` (the engine and the job queue). No
part overrides another's names; each imports what it builds on from the part that holds it.
"""

from portrait_site.settings.base import *  # noqa: F403
from portrait_site.settings.jobs import *  # noqa: F403
from portrait_site.settings.product import *  # noqa: F403
from portrait_site.settings.security import *  # noqa: F403
from portrait_site.settings.storage import *  # noqa: F403
