"""Style services, by sub-domain; this package re-exports each submodule's public names as its
public face (`from styles.services import template_publish`). Inside the package, modules import
each other by submodule."""

from styles.services.requests import (  # noqa: F401
    DESCRIPTION_MAX_LENGTH,
    REFERENCE_IMAGE_FORMATS,
    REFERENCE_IMAGE_MAX_BYTES,
    REFERENCE_IMAGE_MAX_SIDE,
    TITLE_MAX_LENGTH,
    DuplicateTemplateRequest,
    TemplateRequestLimitReached,
    template_request_create,
    template_request_decline,
    template_request_delete,
    template_request_plan,
    template_request_to_template,
)
from styles.services.templates import (  # noqa: F401
    CurationRefused,
    style_example_create,
    template_delete,
    template_publish,
    template_unpublish,
)
from styles.services.votes import (  # noqa: F401
    VOTE_ACTIONS_PER_MINUTE,
    VoteRateLimited,
    VoteRefused,
    template_request_vote_set,
    template_request_vote_toggle,
)
