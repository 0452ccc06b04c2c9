"""nstlib: the small, tested library behind the neural-style-transfer course."""

import importlib
import os

# Torch's OpenMP threads spin-wait by default; on a busy 2-core machine that made runs ~10x slower
# here. Sleeping waits cost little when idle. Only a default: an explicit setting wins, and it must
# be set before torch loads (so it has no effect where torch was imported first).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Names load on first use (PEP 562), so `import nstlib` and `python -m nstlib` start in well under
# a second and can show progress while torch (2-3 s on a 2-core CPU) loads. Name -> submodule:
_EXPORTS = {
    "device": ("default_device", "seed_everything"),
    "errors": ("NSTError",),
    "features": ("CONTENT_LAYERS", "STYLE_LAYERS", "FeatureExtractor"),
    "images": (
        "load_image",
        "load_tensor",
        "postprocess",
        "preprocess",
        "resize",
        "save_image",
        "show_images",
        "to_rgb",
    ),
    "losses": ("LossTerms", "StyleTransferLoss", "content_loss", "gram", "style_loss", "tv_loss"),
    "quality": ("result_ratios",),
    "recipes": ("DEFAULT_STRENGTH", "pyramid_stylize", "recipe_extractor", "stylize"),
    "synthesis": ("FourierImage", "SynthesizedImage", "init_image", "parametrize"),
    "training": ("TrainResult", "train"),
    "vgg": ("LAYERS", "load_vgg19"),
}
_SOURCE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str):
    """Import the submodule that defines `name` (or is `name`, as in `nl.quality`) on first use."""
    if name not in _SOURCE:
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise  # a submodule exists but something it needs is missing
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{_SOURCE[name]}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SOURCE))


__version__ = "0.1.0"

__all__ = sorted(_SOURCE)
