"""Any painting in one pass: universal style transfer by whitening and colouring (Li et al. 2017).

    python -m nstlib.arbitrary photo.jpg painting.jpg -o out.jpg       # any painting, about 2 s
    python -m nstlib.arbitrary list                                    # the shipped decoders
    python -m nstlib.arbitrary train --layer relu3_1 -o my.pt --from relu2_1 --minutes 13   # from photos alone

Rooms: `decoder` (VGG-19 mirrored back to pixels), `transforms` (WCT and AdaIN in closed form),
`universal` (the cascade: encode, transform, decode, coarse to fine), `train` and `train_cli` (the
decoders learn to reconstruct photos; no painting is seen), `model` (files, cards), `cli`. They use
the course's pieces (VGG-19 features, colour control, masks); the course's modules never import these.
"""

from .decoder import LEVELS, Decoder, reconstruct
from .model import load_decoder, load_universal, save_decoder, shipped_decoders
from .train import DecoderConfig, DecoderTrainer, reconstruction_error
from .transforms import StyleStats, adain, colouring, mean_cov, wct, whitening
from .universal import Painter, Universal

__all__ = [
    "LEVELS",
    "Painter",
    "Decoder",
    "DecoderConfig",
    "DecoderTrainer",
    "StyleStats",
    "Universal",
    "adain",
    "colouring",
    "load_decoder",
    "load_universal",
    "mean_cov",
    "reconstruct",
    "reconstruction_error",
    "save_decoder",
    "shipped_decoders",
    "wct",
    "whitening",
]
