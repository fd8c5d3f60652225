"""The sentence a person reads about a refused photo, in their language.

The intake engine (avatars/engine/intake.py) imports no Django: it says which rule refused a
photo (`reason_code`) and the figures it found (`reason_details`). The Photo row stores those
two, and this module words them when they are read, in the active language, so the same
refusal reads in English to one customer and in Chinese to another.
"""

from django.utils.translation import gettext_lazy

# `%(name)s` are the figures the engine returns with the code (formatted by _figures).
SENTENCES = {
    "not_an_image": gettext_lazy(
        "This file is not a photo we can read (%(what)s). Please upload a JPEG, PNG, WebP or HEIC photo."
    ),
    "too_large": gettext_lazy(
        "This file is %(size_mb)s MB; photos can be up to %(limit_mb)s MB. "
        "Please upload the photo as your phone saved it, not a scan or a raw file."
    ),
    "too_small": gettext_lazy(
        "This photo is only %(width)s × %(height)s pixels. "
        "Please use one at least %(min_side)s pixels on its shorter side, straight from your camera."
    ),
    "bomb": gettext_lazy(
        "This image declares %(pixels)s pixels, far more than any camera photo, so we did not open it."
    ),
    "too_many_pixels": gettext_lazy(
        "This %(format)s image is %(width)s × %(height)s pixels; a %(format)s photo can have up to "
        "%(limit_mp)s megapixels. Please upload it as a JPEG, or smaller."
    ),
    "animated": gettext_lazy("Animated images can't be used. Please upload a still photo."),
    "unreadable": gettext_lazy("This photo could not be read: %(what)s. Please upload it again, or pick another."),
    "no_face": gettext_lazy(
        "We couldn't find a face in this photo. Please use one where your face is clearly visible."
    ),
    "several_faces": gettext_lazy(
        "Only one person should be in the photo: we found %(count)s faces. "
        "Please use photos of you alone, or crop the others out."
    ),
    "face_too_small": gettext_lazy(
        "Your face is too small in this photo. Please use one where your face fills more of the frame."
    ),
    "not_frontal": gettext_lazy(
        "Your head is turned too far to the side. Please use photos where you look towards the camera."
    ),
    "blurry": gettext_lazy("This photo is blurry: hold the phone still and tap to focus on your face."),
    "too_dark": gettext_lazy(
        "This photo is too dark to see your face well. Please use one taken in daylight or good light."
    ),
    "too_bright": gettext_lazy(
        "Your face is overexposed in this photo. Please avoid direct sunlight or flash on your face."
    ),
    "duplicate": gettext_lazy("This is the same photo as one you already uploaded. Please use a different photo."),
    "different_person": gettext_lazy(
        "This looks like a different person from your other photos. All photos should show only you."
    ),
    "unsafe": gettext_lazy(
        "This photo can't be used: it appears to contain nudity. Please upload a clothed photo."
    ),
}

# A photo accepted on upload, then outvoted once the set's majority showed whose set it is.
OUTVOTED_BY_THE_SET = gettext_lazy(
    "This looks like a different person from the rest of your photos. "
    "Only upload photos of the person the avatar is of."
)

# The `what` figure of "not_an_image" and "unreadable" (avatars.engine.photo_files.WHAT_CODES).
WHAT = {
    "pdf": gettext_lazy("it is a PDF document"),
    "web_page": gettext_lazy("it is a web page or a drawing"),
    "archive": gettext_lazy("it is a zip archive or an office document"),
    "not_a_picture": gettext_lazy("its contents are not a picture"),
    "fake_format": gettext_lazy("it starts like a %(format)s file but is not one"),
    "unsupported_format": gettext_lazy("a %(format)s image"),
    "empty": gettext_lazy("the file is empty"),
    "damaged": gettext_lazy("the file is damaged or cut short"),
}

# For a stored refusal whose figures are missing (a row from before they were stored).
UNKNOWN = gettext_lazy("This photo can't be used. Please upload another one.")


def verdict_sentence(code: str, details: dict | None = None) -> str:
    """Why a photo was refused, in the active language; "" for an accepted photo (no code)."""
    if not code:
        return ""
    details = details or {}
    if code == "different_person" and details.get("judged") == "set":
        return str(OUTVOTED_BY_THE_SET)
    sentence = SENTENCES.get(code)
    if sentence is None:
        return str(UNKNOWN)
    try:
        return str(sentence) % _figures(details)
    except (KeyError, TypeError, ValueError):
        return str(UNKNOWN)


def _figures(details: dict) -> dict:
    figures = dict(details)
    if "size_mb" in figures:
        figures["size_mb"] = f"{figures['size_mb']:.0f}"
    if "limit_mb" in figures:
        figures["limit_mb"] = f"{figures['limit_mb']:.0f}"
    if "limit_mp" in figures:
        figures["limit_mp"] = f"{figures['limit_mp']:.0f}"
    if "pixels" in figures:
        figures["pixels"] = f"{figures['pixels']:,}"
    if "what" in figures:
        what = WHAT.get(figures["what"])
        figures["what"] = str(what) % {"format": details.get("format", "")} if what is not None else figures["what"]
    return figures
