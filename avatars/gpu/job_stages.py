"""What a GPU job is doing, as the worker records it and as its owner reads it.

The worker has no request, so no reader's language: it stores a stage code (with a figure
after a colon, "likeness:78") in `job.stage`, and `job_stage_words` words it when the page,
its poll or the API reads it, in the reader's language.
"""

from django.utils.translation import gettext_lazy as _

STAGE_WORDS = {
    "starting": _("starting"),
    "loading_model": _("loading the model"),
    "training": _("training"),
    "training_again": _("training again"),
    "saving": _("saving"),
    "rendering": _("rendering"),
    "done": _("done"),
    "retrying": _("retrying"),
    "requeued": _("requeued"),
    "no_closer_version": _("no closer version found"),
    "operator_retry": _("retried by an operator"),
}
# Stages that carry one figure: the code, then ":<figure>" in the stored stage.
STAGE_WITH_FIGURE_WORDS = {
    "likeness": _("learning your face: likeness %(figure)s"),
}


def job_stage(code: str, figure: int | None = None) -> str:
    """The stored form of a stage: its code, or "code:figure"."""
    if code not in STAGE_WORDS and code not in STAGE_WITH_FIGURE_WORDS:
        raise ValueError(f"unknown job stage {code!r}")
    return code if figure is None else f"{code}:{figure}"


def job_stage_words(stage: str) -> str:
    """A stored stage in words, in the active language. A stage stored before stages were
    codes (English words) reads as it was written."""
    code, _colon, figure = stage.partition(":")
    if figure and code in STAGE_WITH_FIGURE_WORDS:
        return str(STAGE_WITH_FIGURE_WORDS[code]) % {"figure": figure}
    words = STAGE_WORDS.get(stage)
    return str(words) if words is not None else stage
