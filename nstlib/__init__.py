"""nstlib: the small, tested library behind the neural-style-transfer course."""

import os

# Torch's OpenMP threads spin-wait by default; on a busy 2-core machine that made runs ~10x slower
# here. Sleeping waits cost little when idle. Only a default: an explicit setting wins, and it must
# be set before torch loads (so it has no effect where torch was imported first).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .device import default_device, seed_everything
from .errors import NSTError
from .features import CONTENT_LAYERS, STYLE_LAYERS, FeatureExtractor
from .images import load_image, load_tensor, postprocess, preprocess, resize, save_image, show_images, to_rgb
from .losses import LossTerms, StyleTransferLoss, content_loss, gram, style_loss, tv_loss
from .quality import result_ratios
from .recipes import DEFAULT_STRENGTH, pyramid_stylize, stylize
from .synthesis import FourierImage, SynthesizedImage, init_image, parametrize
from .training import TrainResult, train
from .vgg import LAYERS, load_vgg19

__version__ = "0.1.0"

__all__ = [
    "CONTENT_LAYERS",
    "DEFAULT_STRENGTH",
    "LAYERS",
    "STYLE_LAYERS",
    "FeatureExtractor",
    "FourierImage",
    "LossTerms",
    "NSTError",
    "StyleTransferLoss",
    "SynthesizedImage",
    "TrainResult",
    "content_loss",
    "default_device",
    "gram",
    "init_image",
    "load_image",
    "load_tensor",
    "load_vgg19",
    "parametrize",
    "postprocess",
    "pyramid_stylize",
    "preprocess",
    "resize",
    "save_image",
    "result_ratios",
    "seed_everything",
    "show_images",
    "stylize",
    "style_loss",
    "to_rgb",
    "train",
    "tv_loss",
]
