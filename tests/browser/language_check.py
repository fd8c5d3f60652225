"""A reusable check that a Chinese page says nothing in English where the site writes the words.

`english_words(page)` returns each text, among the page's headings, buttons, labels, summaries,
progress step names and cover words (the parts whose words come from the templates, the page
scripts and the styles' translated names), that still holds a Latin word not on the allowlist:
the brand, the payment provider, file formats, units and language names that stay as they are.
"""

import re

# Words that stay as they are in Chinese. "English" is the language switcher's button: each
# language is named in its own words.
ALLOWED = ["Likeness", "AI", "Stripe", "API", "PNG", "JPEG", "WebP", "HEIC", "UTC", "LoRA", "px", "English"]
# Where a page's own words are.
SITE_WORDS = ", ".join([
    ".site-header", ".site-footer", "main h1", "main h2", "main h3", "main button", "main .button",
    "main summary", "main label", "main legend", "#job-list li > span:first-child", ".style-cover-words",
    "main .badge", "main .style-choice-title", "main .style-meta", "main .style-usage",
])
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def english_words(page, *, also_allowed: tuple[str, ...] = (), where: str = SITE_WORDS) -> list[str]:
    """The texts under `where` with a Latin word left after the allowlist (and `also_allowed`:
    a test's own data, such as an e-mail address) is taken out."""
    # Whole words only (not letters inside a longer Latin word); Chinese around them is no letter.
    words = "|".join(re.escape(word) for word in (*ALLOWED, *also_allowed))
    allowed = re.compile(rf"(?<![A-Za-z])(?:{words})(?![A-Za-z])")
    texts = page.locator(where).all_inner_texts()
    return [text for text in texts if LATIN_WORD.search(allowed.sub("", text))]
