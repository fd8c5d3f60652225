"""Avatar reads, by sub-domain; this package re-exports each submodule's public names as its
public face (`from avatars.selectors import avatar_get_for_user`). Inside the package, modules
import each other by submodule. The fair queue and queue progress live in avatars.gpu."""

from avatars.selectors.avatars import (  # noqa: F401
    ACTIVE_JOB_STATUSES,
    AUDIENCES_FOR_SUBJECT,
    EXTRA_RENDER_KINDS,
    RenderAllowance,
    avatar_for_style_use,
    avatar_get_for_user,
    avatar_list_for_user,
    avatar_list_for_user_with_counts,
    avatar_list_for_user_with_cover,
    avatar_render_allowance,
    photo_get_for_user,
    portrait_get_for_user,
    portrait_list_for_user,
    template_list_for_avatar,
)
from avatars.selectors.builds import (  # noqa: F401
    BUILD_FAILED_RENDERING,
    BUILD_FAILED_TRAINING,
    JOB_STATE_WORDS,
    avatar_build_failure_reason,
    avatar_has_initial_renders_waiting,
    avatar_list_build_failed,
    avatar_progress_summary,
    job_state_words,
    training_failure_words,
)
from avatars.selectors.files import (  # noqa: F401
    avatar_portraits_zip,
    avatar_portraits_zip_name,
    portrait_download_bytes,
)
from avatars.selectors.operator import (  # noqa: F401
    EngineReport,
    engine_report_latest,
    template_list_with_statistics,
)
from avatars.selectors.photos import (  # noqa: F401
    PhotoReadiness,
    avatar_photo_readiness,
    photo_has_thumbnail,
    photo_list_for_avatar,
    photo_thumbnail_jpeg,
)
from avatars.selectors.polls import (  # noqa: F401
    avatar_progress_estimates_follow,
    avatar_progress_holds_seconds,
    avatar_progress_version,
    avatar_progress_version_for_request,
)
from avatars.selectors.portraits import (  # noqa: F401
    TAKE_FILE_WORDS,
    TAKE_WORDS,
    PortraitVersion,
    avatar_renders_new,
    engine_label_is_test_output,
    engine_label_words,
    portrait_caption,
    portrait_download_name,
    portrait_likeness_words,
    portrait_list_for_avatar,
    portrait_take_name,
    portrait_versions,
    portrait_versions_compared,
)
from avatars.selectors.retention import (  # noqa: F401
    avatar_failed_photos_kept_until,
    avatar_list_failed_with_photos,
    avatar_list_unpaid_with_photos,
    avatar_unpaid_photos_kept_until,
)
