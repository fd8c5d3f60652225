"""Avatar services, by sub-domain; this package re-exports each submodule's public names as
its public face (`from avatars.services import photo_add`). Inside the package, modules import
each other by submodule."""

from avatars.services.avatars import (  # noqa: F401
    AvatarError,
    OpenAvatarsLimitReached,
    PhotoUploadsThrottled,
    avatar_create,
    avatar_mark_trained,
    avatar_refund_record,
    avatar_reopen,
    avatar_templates_set,
)
from avatars.services.builds import (  # noqa: F401
    job_retry,
    training_job_create_for_order,
)
from avatars.services.deletion import (  # noqa: F401
    avatar_delete,
    avatar_delete_by_operator,
    avatar_delete_with_receipt,
    photo_delete_by_operator,
    photos_delete_files,
    portrait_delete,
    portrait_delete_by_operator,
    portrait_delete_with_receipt,
)
from avatars.services.examples import (  # noqa: F401
    portrait_style_example_create,
)
from avatars.services.files import (  # noqa: F401
    media_names_referenced,
    media_orphans_delete,
)
from avatars.services.photos import (  # noqa: F401
    PHOTO_UPLOAD_WINDOW_SECONDS,
    REFUSED_THUMBNAIL_SIZE,
    PhotoAddOutcome,
    photo_add,
    photo_mark_removed,
    photo_remove,
    photos_add,
    photos_refused_clear,
    photos_too_many_message,
)
from avatars.services.renders import (  # noqa: F401
    RenderedPortrait,
    RenderPlan,
    avatar_render_more,
    more_like_me_found_nothing_closer,
    portrait_download_record,
    portrait_favourite_set,
    portrait_more_like_me,
    portrait_reroll,
    portraits_create_for_job,
    render_job_create,
    render_job_plan,
    template_preview_render,
)
from avatars.services.retention import (  # noqa: F401
    avatars_forget_photos_after_failure,
    avatars_forget_unpaid_photos,
)
from avatars.services.usage import (  # noqa: F401
    gpu_usage_record,
)
