"""Rebuild the built-in gallery's ``gallery.json`` (metadata and precomputed style vectors).

Run ``python -m impasto.gallery.build`` after changing a painting or the predictor weights.
"""

from __future__ import annotations

from ..fast import predictor_digest, style_vector
from ..imageio import load_image
from . import GalleryStyle, _write_index, builtin_dir

PAINTINGS = {
    "starry-night": ("The Starry Night", "Vincent van Gogh", "1889", "public domain"),
    "the-scream": ("The Scream", "Edvard Munch", "1893", "public domain"),
    "shipwreck": ("The Shipwreck", "J. M. W. Turner", "1805", "public domain"),
    "woman-with-hat": ("Woman with a Hat", "Henri Matisse", "1905", "public domain in the US (before 1929)"),
    "udnie": ("Udnie", "Francis Picabia", "1913", "public domain in the US (before 1929)"),
}


def main() -> None:
    folder = builtin_dir()
    digest = predictor_digest()
    styles = {}
    for name, (title, artist, year, licence) in PAINTINGS.items():
        file = f"{name}.jpg"
        vec = style_vector(load_image(folder / file))
        styles[name] = GalleryStyle(
            name=name, title=title, artist=artist, year=year, licence=licence, file=file,
            vector=[round(float(v), 6) for v in vec], predictor_sha256=digest, folder=str(folder),
        )  # fmt: skip
    _write_index(folder, styles)
    print(f"wrote {folder / 'gallery.json'} ({len(styles)} styles)")


if __name__ == "__main__":
    main()
