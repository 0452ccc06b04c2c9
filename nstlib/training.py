"""The optimisation loop (chapter 5): each step runs one pass and lets the optimiser move the image.

`train` is the loop a chapter shows whole. Its parts live beside it: `make_optimizer` (Adam with
d2l's StepLR, or L-BFGS), `LossLog` (the loss history, read back from the device in batches) and,
in `nstlib.passes`, the pass itself (eager, CUDA graph, bf16/fp16 autocast).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

from .errors import NSTError, check_choice, check_count
from .lbfgs import LBFGS
from .losses import LossTerms
from .passes import LossFn, make_pass

OPTIMIZERS = ("adam", "lbfgs")
#: Learning rates that work with the default weights: d2l's 0.3 for Adam, 1 for L-BFGS.
DEFAULT_LR = {"adam": 0.3, "lbfgs": 1.0}
#: Losses are copied to the CPU every this many steps: a GPU never waits for the CPU in between.
READ_BACK_EVERY = 10
#: The stop rule of the recipes and the command line: the loss fell by less than 5% over 30 steps.
DEFAULT_TOL = 0.05
DEFAULT_WINDOW = 30

Callback = Callable[[int, torch.Tensor, LossTerms], None]


@dataclass
class TrainResult:
    """The stylised image (normalised, detached), the loss per step, and what it cost."""

    image: torch.Tensor
    history: dict[str, list[float]] = field(default_factory=dict)
    evaluations: int = 0
    seconds: float = 0.0
    stopped: str = "step cap"  # why it ended: "step cap", "converged" or "stop_below"


def make_optimizer(
    name: str,
    params: Iterable[torch.Tensor],
    *,
    lr: float | None = None,
    decay_step: int = 50,
    decay_gamma: float = 0.8,
) -> tuple[torch.optim.Optimizer | LBFGS, torch.optim.lr_scheduler.LRScheduler | ConstantLR]:
    """Adam with StepLR(decay_step, decay_gamma) as d2l, or L-BFGS (unit steps, constant lr)."""
    check_choice("optimizer", name, OPTIMIZERS)
    lr = DEFAULT_LR[name] if lr is None else float(lr)
    if not lr > 0:
        raise NSTError(f"lr must be > 0, got {lr}")
    if name == "adam":
        opt = torch.optim.Adam(params, lr=lr)
        return opt, torch.optim.lr_scheduler.StepLR(
            opt, check_count("lr_decay_step", decay_step, 1), decay_gamma
        )
    # Unit steps without line search (as Johnson's neural-style): one pass per step, like Adam.
    return LBFGS(params, lr=lr), ConstantLR()  # its history: lbfgs.LBFGS_HISTORY, as resources assumes


def _check_stop_rule(tol: float | None, window: int) -> None:
    """Refuse a `window` below 1 step and a negative (or NaN) `tol`."""
    check_count("window", window, 1)
    if tol is not None and not tol >= 0:
        raise NSTError(
            f"tol must be >= 0 (a fraction of the loss), got {tol}; use e.g. {DEFAULT_TOL} or None"
        )


class ConstantLR:
    """L-BFGS's schedule: its step length stays `lr`."""

    def step(self) -> None:
        """Nothing changes."""


class LossLog:
    """Each step's losses, learning rate and seconds; losses stay on the device until `flush`."""

    def __init__(self, optimizer: torch.optim.Optimizer | LBFGS, name: str) -> None:
        self.optimizer, self.name = optimizer, name
        self.history: dict[str, list[float]] = {
            k: [] for k in ("step", "content", "style", "tv", "total", "lr", "seconds")
        }
        self.pending: list[torch.Tensor] = []  # one row of losses per step not yet read back
        self.start = time.perf_counter()

    def add(self, step: int, terms: LossTerms) -> None:
        """Record a step without waiting for the device ("seconds": when the step was issued)."""
        self.pending.append(torch.stack([terms.content, terms.style, terms.tv, terms.total]).detach())
        self.history["step"].append(step)
        self.history["lr"].append(self.optimizer.param_groups[0]["lr"])
        self.history["seconds"].append(self.elapsed())

    def elapsed(self) -> float:
        """Seconds since the log was made."""
        return time.perf_counter() - self.start

    def converged(self, tol: float, window: int) -> bool:
        """Whether the loss fell by less than the fraction `tol` over the last `window` (flushed) steps."""
        self.flush()
        total = self.history["total"]
        if len(total) <= window:
            return False
        before, now = min(total[:-window]), min(total[-window:])
        return before - now < tol * before

    def flush(self) -> float:
        """Copy the pending losses to the history (one device-to-host copy); returns the last total."""
        if self.pending:
            first = len(self.history["total"]) + 1
            for i, row in enumerate(torch.stack(self.pending).tolist()):
                if not math.isfinite(row[-1]):
                    lr = self.optimizer.defaults["lr"]
                    raise NSTError(
                        f"the loss became {row[-1]} at step {first + i} with {self.name} lr={lr:g}; "
                        f"lower the learning rate (try lr={lr / 10:g})"
                    )
                for key, value in zip(("content", "style", "tv", "total"), row):
                    self.history[key].append(value)
            self.pending.clear()
        return self.history["total"][-1] if self.history["total"] else math.nan


def train(
    synth: nn.Module,
    loss_fn: LossFn,
    *,
    optimizer: str = "adam",
    steps: int = 500,
    lr: float | None = None,
    lr_decay_step: int = 50,
    lr_decay_gamma: float = 0.8,
    callback: Callback | None = None,
    callback_every: int = 10,
    progress: bool = True,
    stop_below: float | None = None,
    cuda_graph: bool | None = None,
    precision: str = "auto",
    tol: float | None = None,
    window: int = DEFAULT_WINDOW,
) -> TrainResult:
    """Run up to `steps` optimiser steps on the image `synth`, one forward/backward pass each.

    `callback(step, image, terms)` runs every `callback_every` steps and after the last. Training
    ends early at the first loss <= `stop_below`, or once the loss fell by less than the fraction
    `tol` over the last `window` steps ("converged"). `precision`, `cuda_graph`: see `passes.make_pass`.
    """
    check_count("steps", steps), check_count("callback_every", callback_every, 1)
    _check_stop_rule(tol, window)
    run_pass = make_pass(synth, loss_fn, precision=precision, cuda_graph=cuda_graph if steps else False)
    opt, schedule = make_optimizer(
        optimizer, synth.parameters(), lr=lr, decay_step=lr_decay_step, decay_gamma=lr_decay_gamma
    )
    log, stopped = LossLog(opt, optimizer), "step cap"
    with tqdm(total=steps, desc=optimizer, disable=not progress, leave=False) as bar:
        for step in range(1, steps + 1):
            opt.step(run_pass)  # run_pass: the loss and its gradients; then the optimiser's update
            log.add(step, run_pass.terms)
            schedule.step()
            if step % READ_BACK_EVERY == 0 or step == steps or stop_below is not None:
                bar.set_postfix(loss=f"{log.flush():.3g}", refresh=False)
            bar.update()
            if stop_below is not None and log.flush() <= stop_below:
                stopped = "stop_below"
            elif tol is not None and step % READ_BACK_EVERY == 0 and log.converged(tol, window):
                stopped = "converged"
            last = step == steps or stopped != "step cap"  # an early stop's last step is shown too
            if callback is not None and (step % callback_every == 0 or last):
                callback(step, synth().detach(), run_pass.terms)
            if last:
                break
    return TrainResult(synth().detach().clone(), log.history, run_pass.evaluations, log.elapsed(), stopped)
