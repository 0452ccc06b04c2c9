"""Real-time style transfer: a feed-forward network (Johnson et al. 2016) trained with the course's objective.

    python -m nstlib.realtime list                        # the shipped models
    python -m nstlib.realtime apply night-cafe photo.jpg -o out.jpg
    python -m nstlib.realtime train painting.jpg -o my-style.pt --minutes 10 --from night-cafe

Rooms: `network` (the net), `data` (training crops), `train` (the loop), `model` (files, cards,
applying), `cli`. They use the course's pieces (VGG-19 features, Gram, the normalised objective,
`result_ratios`); the course's modules never import these.
"""

from .model import apply, load_model, save_model, shipped
from .network import TransformerNet
from .train import TrainConfig, Trainer, validate

__all__ = [
    "TrainConfig",
    "Trainer",
    "TransformerNet",
    "apply",
    "load_model",
    "save_model",
    "shipped",
    "validate",
]
