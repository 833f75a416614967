"""What pages call things: titles for people, never the slugs and file names that stay in URLs.

A job keeps the style's slug (``starry-night``) or ``upload`` and the photo's file name; pages show
"The Starry Night", the title the user gave a saved style, "your picture", and the photo's name
without its extension (or "your photo" for a pasted or unnamed one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePosixPath

UPLOAD = "upload"  # the style name of a job whose style picture was uploaded and not saved
_GENERIC = {"", "photo", "image", "blob", "upload", "pasted", "clipboard", "download"}


def style_title(name: str, titles: Mapping[str, str]) -> str:
    """The gallery title of a style slug; "your picture" for an unsaved upload."""
    if name == UPLOAD:
        return "your picture"
    return titles.get(name) or name.replace("-", " ").capitalize()


def photo_title(content_name: str) -> str:
    """``tubingen.jpg`` → ``tubingen``; a pasted ``image.png`` → ``your photo``."""
    stem = PurePosixPath(content_name.split("?", 1)[0]).stem if content_name else ""
    words = re.sub(r"[_]+", " ", stem).strip()
    return "your photo" if words.lower() in _GENERIC else words


_STARTS_WITH_FILE = re.compile(r"[^\s:]+\.\w{1,5}:")


def sentence(message: str) -> str:
    """A message as a sentence: its first letter capitalised, unless it starts with a file's own
    name (``notaphoto.jpg: not an image…`` stays so: the file is not called ``Notaphoto.jpg``)."""
    if not message or _STARTS_WITH_FILE.match(message):
        return message
    return message[:1].upper() + message[1:]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")


def download_name(content_name: str, style_name: str, mode: str, kind: str) -> str:
    """A downloaded file's name (without its extension) that says what it is: the photo, then for
    a painting its style and mode: ``chicago-starry-night-quality``, ``chicago-photo``."""
    photo = PurePosixPath(content_name.split("?", 1)[0]).stem if content_name else ""
    photo = _slug(photo) if _slug(photo) not in {_slug(g) for g in _GENERIC} else ""
    style = "own-style" if style_name == UPLOAD else _slug(style_name) or "style"
    if kind == "style":
        return style
    what = {"content": ["photo"], "source": ["original"], "preview": [style, "preview"]}
    return "-".join([photo or "impasto", *what.get(kind, [style, mode])])
