"""Rebuild the built-in gallery's ``gallery.json`` (metadata and precomputed style vectors).

Run ``python -m impasto.gallery.build`` after changing a painting or the predictor weights.
"""

from __future__ import annotations

from ..fast import predictor_digest, style_vector
from ..imageio import load_image
from . import GalleryStyle, _write_index, builtin_dir

PD = "public domain"  # the artist died more than 70 years ago and the work was published before 1931
# name: (title, artist, year, licence); where each file comes from and why it is free: SOURCES.md
PAINTINGS = {
    "starry-night": ("The Starry Night", "Vincent van Gogh", "1889", PD),
    "the-scream": ("The Scream", "Edvard Munch", "1893", PD),
    "shipwreck": ("The Shipwreck", "J. M. W. Turner", "1805", PD),
    "woman-with-hat": ("Woman with a Hat", "Henri Matisse", "1905", PD),
    "udnie": ("Udnie", "Francis Picabia", "1913", PD),
    "great-wave": ("The Great Wave off Kanagawa", "Katsushika Hokusai", "c. 1831", PD),
    "composition-vii": ("Composition VII", "Wassily Kandinsky", "1913", PD),
    "water-lilies": ("Water Lilies", "Claude Monet", "1919", PD),
    "grande-jatte": ("A Sunday on La Grande Jatte", "Georges Seurat", "1884–1886", PD),
    "jean-metzinger": ("Portrait of Jean Metzinger", "Robert Delaunay", "1906", PD),
    "contrast-of-forms": ("Contrast of Forms", "Fernand Léger", "1913", PD),
    "portrait-of-picasso": ("Portrait of Pablo Picasso", "Juan Gris", "1912", PD),
    "edtaonisl": ("Edtaonisl (Ecclesiastic)", "Francis Picabia", "1913", PD),
    "night-cafe": ("The Night Café", "Vincent van Gogh", "1888", PD),
    "wheat-field": ("Wheat Field with Cypresses", "Vincent van Gogh", "1889", PD),
    "van-gogh-self-portrait": ("Self-Portrait", "Vincent van Gogh", "1889", PD),
    "haystacks": ("Haystacks, End of Summer", "Claude Monet", "1891", PD),
    "pont-neuf": ("Pont Neuf, Paris", "Pierre-Auguste Renoir", "1872", PD),
    "card-players": ("The Card Players", "Paul Cézanne", "1890–1892", PD),
    "basket-of-apples": ("The Basket of Apples", "Paul Cézanne", "c. 1893", PD),
    "pearl-earring": ("Girl with a Pearl Earring", "Johannes Vermeer", "c. 1665", PD),
    "cherry-tree": ("Cherry Tree (screen painting, detail)", "Sakai Hōitsu", "early 19th century", PD),
    "camille-mauclair": ("Camille Mauclair (woodcut)", "Félix Vallotton", "1898", PD),
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
