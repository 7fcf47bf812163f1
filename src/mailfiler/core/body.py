"""The body as each kind of record stores it.

An Interaction keeps the rich body: the sender's HTML, cleaned by an
allow-list sanitizer (nh3 / Ammonia) so that what the staff site renders can
run no script, call no handler and load nothing from the sender's servers
(remote images are how senders track who opened a message). Inline images
stay, as ``cid:`` links to the attachments filed beside the record.

An Activity keeps plain text only (the product page: "Only the plain text
version of the email is saved"): the sender's own plain version when there is
one, else the HTML turned into text with its layout kept (inscriptis).
"""

from __future__ import annotations

import html
import re

import nh3
from inscriptis import get_text

from mailfiler.core.message import BodyPart, Message

_TAGS = set(nh3.ALLOWED_TAGS) | {"font", "tfoot", "center", "span", "div"}

_ATTRIBUTES: dict[str, set[str]] = {
    tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()
}
for _tag, _extra in {
    "*": {"style", "dir", "lang", "title", "align"},
    "table": {"width", "border", "cellpadding", "cellspacing", "bgcolor"},
    "td": {"width", "height", "valign", "bgcolor", "nowrap"},
    "th": {"width", "height", "valign", "bgcolor", "nowrap"},
    "tr": {"valign", "bgcolor"},
    "font": {"color", "face", "size"},
    "img": {"title", "border"},
    "a": {"title", "name"},
}.items():
    _ATTRIBUTES.setdefault(_tag, set()).update(_extra)

# CSS properties kept in style attributes: layout and typography only. Anything
# that can fetch a URL (background-image, list-style-image, content …) is dropped.
_STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style",
    "font-weight", "font-variant", "text-align", "text-decoration", "text-indent",
    "text-transform", "line-height", "letter-spacing", "white-space", "vertical-align",
    "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
    "padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
    "border", "border-top", "border-right", "border-bottom", "border-left",
    "border-color", "border-style", "border-width", "border-collapse", "border-spacing",
    "width", "height", "max-width", "min-width", "display", "direction",
}  # fmt: skip

_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid", "data"}
_INLINE_IMAGE = re.compile(r"\s*(cid:|data:image/(png|jpeg|gif|webp);)", re.IGNORECASE)


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    # An <img> may only show what travels with the message: a cid: part or an
    # inline data: image. A remote src is a tracking pixel as often as not.
    if tag == "img" and attribute == "src":
        return value if _INLINE_IMAGE.match(value) else None
    # data: is allowed for inline images only, never for links.
    if value.strip().lower().startswith("data:"):
        return None
    return value


def sanitize_html(markup: str) -> str:
    """The HTML with scripts, handlers, forms and remote content removed."""
    return nh3.clean(
        markup,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_keep_attribute,
        url_schemes=_URL_SCHEMES,
        filter_style_properties=_STYLE_PROPERTIES,
        strip_comments=True,
    )


def text_as_html(text: str) -> str:
    """Plain text shown as HTML, line breaks and spacing kept."""
    return f'<div style="white-space: pre-wrap">{html.escape(text)}</div>'


def html_as_text(markup: str) -> str:
    """Readable plain text from HTML: paragraphs, lists and tables keep their layout."""
    return _tidy(get_text(markup))


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def part_html(part: BodyPart) -> str:
    if part.html is not None:
        return part.html
    return text_as_html(part.text or "")


def part_text(part: BodyPart) -> str:
    if part.text is not None:
        return part.text
    return html_as_text(part.html or "")


def interaction_body(message: Message) -> str:
    """The rich body an Interaction stores."""
    return sanitize_html("\n".join(part_html(p) for p in message.body))


def activity_body(message: Message) -> str:
    """The plain-text body an Activity stores."""
    return _tidy("\n\n".join(part_text(p) for p in message.body))
