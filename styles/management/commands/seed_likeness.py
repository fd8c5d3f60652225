"""Seeds the style gallery and a local staff user. Safe to run on every start.

Templates are created when their slug is missing and otherwise left exactly as they
are: once seeded, a template belongs to the operator, whose edits a restart must not undo.
"""

import io
import secrets

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from accounts.models import User
from avatars.engine.families import PROMPT_WORDING_FAMILIES
from portrait_site.core.files import storage_delete_files
from styles.models import StyleTemplate

Category = StyleTemplate.Category
Audience = StyleTemplate.Audience

STAFF_EMAIL = "admin@likeness.local"

NEGATIVE_PROMPT = (
    "plastic skin, airbrushed, cgi, 3d render, cartoon, anime, doll, oversmoothed, beauty filter, "
    "wax figure, deformed, asymmetric eyes, extra fingers, bad hands, blurry, lowres, watermark, text, logo"
)

PROMPT_OPENING = "a realistic photo portrait of {identity}, "

# (slug, title, category, audience, description, look, (top colour, bottom colour))
# `look` follows PROMPT_OPENING: real photographic vocabulary (lens, light, film stock) steers
# the model away from the glossy AI look. CLIP reads 77 tokens: each prompt, with the widest
# identity an avatar gets, counts 77 or fewer with CLIP's own tokenizer (tests/styles check it),
# so no ending is silently dropped.
TEMPLATES = [
    ("business-headshot", "Business headshot", Category.PROFESSIONAL, Audience.ALL,
     "A clean, confident headshot for LinkedIn, a company page or a conference badge.",
     "wearing a tailored dark blazer, head and shoulders, neutral grey seamless backdrop, "
     "soft key light from a large octabox with gentle fill, catchlights in the eyes, 85mm lens at f/4, "
     "sharp focus on the eyes, natural skin texture, corporate headshot, Canon EOS R5",
     ("#2f3e4e", "#8a9bab")),
    ("passport-id", "Passport & ID photo", Category.PROFESSIONAL, Audience.ALL,
     "Front-facing, evenly lit, plain background: the look of a good official photo.",
     "facing the camera straight on, neutral expression, plain off-white background, even flat lighting "
     "from two softboxes, no shadows on the background, 70mm lens at f/8, head and shoulders centred, "
     "true-to-life skin tones, unretouched",
     ("#d9dde2", "#9aa4ae")),
    ("graduation", "Graduation day", Category.CEREMONY, Audience.ALL,
     "Cap and gown on campus, late-afternoon sun, the day it all paid off.",
     "wearing a black graduation gown and mortarboard cap, university campus lawn and brick buildings "
     "behind, golden hour backlight with a reflector fill, 85mm lens at f/2, shallow depth of field, "
     "genuine smile, shot on Kodak Portra 400, natural film grain",
     ("#3b2f5c", "#c9a35a")),
    ("wedding", "Wedding portrait", Category.CEREMONY, Audience.ALL,
     "Soft, romantic, timeless: a portrait for the wedding album.",
     "in elegant wedding attire, garden venue with blurred white flowers, soft overcast daylight, "
     "50mm lens at f/1.8, creamy bokeh, airy bright exposure, shot on Fujifilm Pro 400H, "
     "delicate film grain, candid emotional expression",
     ("#f3e9e2", "#c7a99b")),
    ("hanfu", "Hanfu garden", Category.CULTURAL, Audience.ALL,
     "Traditional Han clothing among pavilions and plum blossoms.",
     "wearing traditional silk hanfu with wide flowing sleeves, classical Chinese garden with a wooden "
     "pavilion and plum blossoms, soft diffused afternoon light, 85mm lens at f/2.2, muted natural colours, "
     "fine fabric texture, shot on Kodak Ektar 100, realistic skin texture",
     ("#7a2f2f", "#d8b48a")),
    ("qipao", "Qipao, old Shanghai", Category.CULTURAL, Audience.WOMEN,
     "A fitted qipao and the warm glow of 1930s Shanghai interiors.",
     "wearing an embroidered silk qipao, 1930s Shanghai art deco interior with a rosewood screen, "
     "warm tungsten practical lamps, 58mm vintage lens at f/2, gentle halation, "
     "shot on Kodak Vision3 500T, rich warm shadows, natural skin texture",
     ("#5c1f2b", "#c98e5a")),
    ("film-noir", "Film noir", Category.CINEMATIC, Audience.ALL,
     "Black and white, hard light, venetian-blind shadows: a 1940s detective still.",
     "black and white film noir still, hard key light through venetian blinds casting striped shadows, "
     "cigarette smoke haze, 1940s wardrobe, 50mm lens at f/2.8, deep blacks and bright highlights, "
     "shot on Kodak Double-X 5222, visible film grain",
     ("#111111", "#6b6b6b")),
    ("hong-kong-90s", "90s Hong Kong film", Category.CINEMATIC, Audience.ALL,
     "Neon signs, humid night air, step-printed motion: Hong Kong cinema of the nineties.",
     "1990s Hong Kong movie still, crowded Mong Kok street at night, red and green neon signs, "
     "wet asphalt reflections, 35mm lens at f/1.4, tungsten light mixed with neon, "
     "shot on Fujifilm Eterna 500, heavy grain, slight motion blur",
     ("#0f3b3a", "#c2343f")),
    ("cyberpunk-night", "Cyberpunk night street", Category.CINEMATIC, Audience.ALL,
     "Rain, holograms and magenta-teal light on a city street at 2 a.m.",
     "standing on a rainy night street, magenta and teal neon signage reflected on wet pavement, "
     "light rain drops, 35mm lens at f/1.4, bokeh from street lights, shot on Cinestill 800T with "
     "red halation around lights, realistic skin with rain droplets",
     ("#1a0f3c", "#d0307a")),
    ("vintage-1920s", "Vintage 1920s", Category.CINEMATIC, Audience.ALL,
     "Jazz-age glamour, sepia tones and a studio portrait camera.",
     "1920s jazz age studio portrait, period clothing and hair, painted canvas backdrop, single large "
     "window light from the side, large format camera, 150mm lens, sepia toned silver gelatin print, "
     "soft focus edges, fine grain, authentic vintage photograph",
     ("#4a3524", "#c9ad86")),
    ("studio-white", "Studio white", Category.STUDIO, Audience.ALL,
     "Bright, minimal, modern: a clean white studio portrait.",
     "in simple modern clothing, pure white seamless studio backdrop, high key lighting with a large "
     "beauty dish and two background strobes, 85mm lens at f/5.6, crisp detail, true colours, "
     "natural unretouched skin texture, editorial portrait, Hasselblad medium format",
     ("#f7f7f5", "#cfd3d6")),
    ("cafe-window", "Café window light", Category.STUDIO, Audience.ALL,
     "A quiet moment by a café window, soft side light and a warm cup.",
     "sitting by a café window with a cup of coffee, soft side light from the window, warm wooden "
     "interior softly out of focus, 50mm lens at f/1.8, gentle shadows, shot on Kodak Portra 160, "
     "candid relaxed expression, natural skin texture",
     ("#5a4030", "#e0c7a6")),
    ("summer-beach", "Summer beach", Category.OUTDOOR, Audience.ALL,
     "Sea breeze, warm light, sun-kissed skin on an open beach.",
     "on a sandy beach at golden hour, ocean waves behind, warm backlight through the hair, light linen "
     "clothing, 85mm lens at f/2, sun flare, shot on Kodak Gold 200, warm tones, freckles and natural "
     "skin texture, windswept hair",
     ("#2a7fa8", "#f2cf8c")),
    ("autumn-park", "Autumn park", Category.OUTDOOR, Audience.ALL,
     "Golden leaves, a wool coat and soft October light.",
     "walking in a park in autumn, golden and red maple leaves, wearing a wool coat and scarf, soft "
     "overcast light, 135mm lens at f/2, compressed background bokeh, shot on Fujifilm Superia 400, "
     "earthy warm tones, natural skin texture",
     ("#6b3a1e", "#d99a3d")),
]


# The same looks in sentences, for the families whose text encoder is a language model
# (StyleTemplate.prompt_by_family; avatars.engine.families.PROMPT_WORDING_FAMILIES): it reads a
# description, not tags, and up to 512 tokens. Each follows SENTENCE_OPENING and ends with
# SENTENCE_CLOSING, which asks for real skin instead of the smooth "AI" finish.
SENTENCE_OPENING = "A realistic photograph of {identity}. "
SENTENCE_CLOSING = (
    " The skin shows its natural texture, pores and small imperfections, with no retouching, "
    "no plastic smoothness and no beauty filter."
)
SENTENCES = {
    "business-headshot": "A head-and-shoulders business headshot: the person wears a tailored dark blazer in "
    "front of a neutral grey backdrop, lit by a large soft light with gentle fill, catchlights in the eyes, "
    "taken with an 85mm lens, the eyes in sharp focus.",
    "passport-id": "An official ID photo: the person faces the camera straight on with a neutral expression, "
    "head and shoulders centred against a plain off-white background, evenly lit without shadows, true skin tones.",
    "graduation": "A graduation portrait on a university lawn with brick buildings behind: the person wears a "
    "black gown and mortarboard and smiles, backlit by golden late-afternoon sun, shot on Kodak Portra 400 "
    "with a shallow depth of field and natural film grain.",
    "wedding": "A wedding portrait in a garden venue: the person wears elegant wedding attire among softly "
    "blurred white flowers, in bright overcast daylight, with a candid, moved expression, on Fujifilm film "
    "with delicate grain.",
    "hanfu": "The person wears traditional silk hanfu with wide flowing sleeves in a classical Chinese garden, "
    "a wooden pavilion and plum blossoms behind, in soft afternoon light with muted natural colours and fine "
    "fabric texture.",
    "qipao": "The person wears an embroidered silk qipao in a 1930s Shanghai art deco interior beside a "
    "rosewood screen, lit warmly by tungsten lamps, shot with a vintage lens on Kodak Vision3 500T with rich "
    "warm shadows.",
    "film-noir": "A black-and-white film noir still from the 1940s: hard light through venetian blinds casts "
    "striped shadows across the person in period clothes, with a haze of smoke, deep blacks and visible film grain.",
    "hong-kong-90s": "A still from a 1990s Hong Kong film: the person stands on a crowded Mong Kok street at "
    "night under red and green neon signs, wet asphalt reflecting the light, shot on Fujifilm Eterna 500 with "
    "heavy grain and slight motion blur.",
    "cyberpunk-night": "The person stands on a city street at night in light rain, magenta and teal neon "
    "reflected on the wet pavement, street lights blurred behind, shot on Cinestill 800T with red halation, "
    "raindrops on the skin.",
    "vintage-1920s": "A 1920s studio portrait: the person wears period clothing and hair before a painted "
    "canvas backdrop, lit by one large window from the side, printed in sepia on silver gelatin paper with "
    "soft edges and fine grain.",
    "studio-white": "A bright, high-key editorial portrait: the person wears simple modern clothing against a "
    "pure white seamless backdrop, lit by a beauty dish, shot on a medium format camera with crisp detail and "
    "true colours.",
    "cafe-window": "The person sits by a café window with a cup of coffee, soft side light from the window on "
    "the face, the warm wooden interior out of focus behind, a relaxed candid expression, shot on Kodak Portra 160.",
    "summer-beach": "The person stands on a sandy beach at golden hour in light linen clothing, ocean waves "
    "behind, warm sun through windswept hair with a little lens flare, shot on Kodak Gold 200 in warm tones, "
    "freckles visible.",
    "autumn-park": "The person walks through a park in autumn in a wool coat and scarf, golden and red maple "
    "leaves around, in soft overcast light, the background compressed and blurred by a 135mm lens, earthy warm tones.",
}


def family_wordings(slug: str) -> dict:
    """The seeded style's own wording for each family the engine words separately
    (StyleTemplate.prompt_by_family); a negative prompt only where the family takes one."""
    wordings = {}
    for member in PROMPT_WORDING_FAMILIES:
        wording = {"prompt": SENTENCE_OPENING + SENTENCES[slug] + SENTENCE_CLOSING}
        if member.takes_negative_prompt:
            wording["negative_prompt"] = NEGATIVE_PROMPT
        wordings[member.name] = wording
    return wordings


# The gallery's names and descriptions in Chinese (StyleTemplate.translations); the prompts
# stay English, the language the model reads.
CHINESE = {
    "business-headshot": ("商务头像", "干净利落、自信大方的职业头像，适合领英、公司主页或会议胸牌。"),
    "passport-id": ("证件照", "正面、光线均匀、背景素净：一张好证件照该有的样子。"),
    "graduation": ("毕业季", "学士服与学位帽，校园里的午后斜阳，纪念努力终有回报的那一天。"),
    "wedding": ("婚纱照", "柔和、浪漫、历久弥新：一张放进婚礼相册的肖像。"),
    "hanfu": ("汉服园林", "身着传统汉服，置身亭台楼阁与梅花之间。"),
    "qipao": ("旗袍·老上海", "一袭合身旗袍，映着上世纪三十年代上海室内的暖光。"),
    "film-noir": ("黑色电影", "黑白影调、硬朗光线、百叶窗的条纹阴影：一帧四十年代侦探片的剧照。"),
    "hong-kong-90s": ("九十年代港片", "霓虹招牌、潮湿的夜色、抽帧般的动感：九十年代的香港电影。"),
    "cyberpunk-night": ("赛博朋克夜街", "凌晨两点的城市街头：雨水、全息投影和洋红与青色的光。"),
    "vintage-1920s": ("复古二十年代", "爵士时代的华丽、深褐色调，一台老式影楼相机。"),
    "studio-white": ("白色影棚", "明亮、简约、现代：一张干净的白底影棚肖像。"),
    "cafe-window": ("咖啡馆窗边", "咖啡馆窗边的安静时刻，柔和的侧光与一杯温热的咖啡。"),
    "summer-beach": ("夏日海滩", "海风、暖阳，开阔海滩上被阳光亲吻的肌肤。"),
    "autumn-park": ("秋日公园", "金黄落叶、羊毛大衣，十月柔和的光线。"),
}


def _hex_to_rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))


def style_card_png(*, colours: tuple[str, str], size=(512, 640)) -> bytes:
    """A cover for the gallery: a gradient with the outline of head and shoulders. A style card,
    never a fake portrait, and wordless: the page writes the style's name over it in the
    reader's language (templates/styles/_cover.html)."""
    width, height = size
    top, bottom = _hex_to_rgb(colours[0]), _hex_to_rgb(colours[1])
    card = Image.new("RGB", size)
    draw = ImageDraw.Draw(card)
    for y in range(height):
        mix = y / (height - 1)
        draw.line([(0, y), (width, y)], fill=tuple(round(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True)))
    shapes = Image.new("L", size, 0)
    outline = ImageDraw.Draw(shapes)
    head = width * 0.17
    outline.ellipse([width / 2 - head, height * 0.34 - head, width / 2 + head, height * 0.34 + head], fill=60)
    outline.ellipse([width * 0.06, height * 0.6, width * 0.94, height * 1.08], fill=45)
    card.paste(Image.new("RGB", size, (255, 255, 255)), mask=shapes)
    encoded = io.BytesIO()
    card.save(encoded, format="PNG", optimize=True)
    return encoded.getvalue()


def _translations(slug: str) -> dict:
    if slug not in CHINESE or "zh-hans" not in dict(settings.LANGUAGES):
        return {}
    title, description = CHINESE[slug]
    return {"zh-hans": {"title": title, "description": description}}


class Command(BaseCommand):
    help = "Creates the starter style templates (missing ones only) and a local staff user if there is none."

    def add_arguments(self, parser):
        parser.add_argument(
            "--redraw-covers", action="store_true",
            help="Replace the covers of the seeded styles (found by slug) with today's wordless cards: "
            "earlier releases drew English words into them. A cover you uploaded for one of them is replaced too.",
        )

    def handle(self, *args, **options):
        self._seed_templates()
        if options["redraw_covers"]:
            self._redraw_covers()
        self._seed_staff_user()

    def _redraw_covers(self) -> None:
        colours_by_slug = {slug: colours for slug, *_rest, colours in TEMPLATES}
        redrawn = 0
        for template in StyleTemplate.objects.filter(slug__in=colours_by_slug):
            with transaction.atomic():
                old = template.cover_image.name
                template.cover_image.save(f"{template.slug}.png", ContentFile(style_card_png(colours=colours_by_slug[template.slug])))
                if old:
                    # After the commit: a rollback must not leave the row pointing at a deleted file.
                    transaction.on_commit(lambda names=[old]: storage_delete_files(names))
            redrawn += 1
        self.stdout.write(f"Style covers: {redrawn} redrawn without words.")

    def _seed_templates(self) -> None:
        created = 0
        existing = set(StyleTemplate.objects.filter(slug__in=[t[0] for t in TEMPLATES]).values_list("slug", flat=True))
        for order, (slug, title, category, audience, description, look, colours) in enumerate(TEMPLATES):
            if slug in existing:
                continue
            with transaction.atomic():
                template = StyleTemplate(
                    slug=slug,
                    title=title,
                    category=category,
                    audience=audience,
                    description=description,
                    translations=_translations(slug),
                    prompt=PROMPT_OPENING + look,
                    negative_prompt=NEGATIVE_PROMPT,
                    prompt_by_family=family_wordings(slug),
                    img2img_strength=0.75,
                    guidance_scale=6.5,
                    steps=28,
                    width=512,
                    height=640,
                    likeness_weight=7.5,
                    beauty_weight=2.5,
                    is_published=True,
                    sort_order=(order + 1) * 10,
                )
                card = style_card_png(colours=colours)
                template.cover_image.save(f"{slug}.png", ContentFile(card), save=False)
                template.save()
            created += 1
        self.stdout.write(
            f"Style templates: {created} created, {len(existing)} already there and left as they are."
        )
        self._add_family_wordings()

    def _add_family_wordings(self) -> None:
        """Seeded styles from before per-family prompts get the wordings they lack; a wording
        already there (the operator's own, say) stays as it is."""
        added = 0
        for template in StyleTemplate.objects.filter(slug__in=SENTENCES):
            wordings = dict(template.prompt_by_family or {})
            missing = {name: wording for name, wording in family_wordings(template.slug).items() if name not in wordings}
            if missing:
                template.prompt_by_family = {**wordings, **missing}
                template.save(update_fields=["prompt_by_family", "updated_at"])
                added += 1
        self.stdout.write(f"Style templates: {added} given prompts worded for language-model families.")

    def _seed_staff_user(self) -> None:
        if User.objects.filter(email=STAFF_EMAIL).exists():
            self.stdout.write(f"Staff user {STAFF_EMAIL} exists (password not shown).")
            return
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("A superuser already exists; no local staff user created.")
            return
        password = secrets.token_urlsafe(12)
        # Verified from the start: the address is the install's own, no mail ever reaches it, and
        # an unverified account is one whose confirmation link is still to be opened.
        User.objects.create_superuser(email=STAFF_EMAIL, password=password, email_verified_at=timezone.now())
        self.stdout.write(f"Staff user {STAFF_EMAIL}, password: {password} (shown once)")
