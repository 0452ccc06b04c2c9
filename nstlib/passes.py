"""The forward/backward pass of one training step, and the ways to make it fast on a GPU.

`make_pass` picks one of three: `EagerPass` (compute the loss and its gradients afresh),
`GraphedPass` (the same work recorded once as a CUDA graph and replayed) and `ScaledPass`
(fp16 autocast with a dynamic loss scale). `train` (nstlib.training) only calls the result.
Precision: "fp32"; "bf16" (bfloat16 autocast: convolutions and style Grams in bf16, the loss terms
in fp32); "fp16" (float16 autocast for GPUs without bfloat16 units, e.g. T4-class, compute
capability 7.5);
"auto" picks bf16 on a CUDA GPU that has it, fp16 on one that does not; on a CPU, bf16 where it
has bfloat16 instructions (AVX-512 BF16 or AMX: oneDNN's bf16 convolutions, a 512-px step 1.5x
sooner on this project's 2-core CPU, the same ratios), fp32 elsewhere. Measured: benchmarks/results/.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import nn

from .errors import NSTError, check_choice
from .losses import LossTerms

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}
LossFn = Callable[[torch.Tensor], LossTerms]


def resolve_precision(precision: str, device: torch.device | str, *, cpu_bf16: bool = True) -> str:
    """ "auto" -> bf16 on a GPU or CPU with bfloat16 units, fp16 on a GPU without, fp32 elsewhere.

    `cpu_bf16=False` keeps "auto" at fp32 on every CPU (the real-time network's pass, not measured in bf16).
    """
    check_choice("precision", precision, PRECISIONS)
    if precision != "auto":
        return precision
    kind = torch.device(device).type
    if kind == "cpu":
        return "bf16" if cpu_bf16 and has_cpu_bf16_units() else "fp32"
    if kind != "cuda":
        return "fp32"
    return "bf16" if has_bf16_units(device) else "fp16"


def has_cpu_bf16_units() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX-512 BF16 or AMX), so bf16 convolutions beat fp32."""
    # Without them oneDNN converts to fp32 and back around each convolution: slower than fp32.
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch >= 2.3; absent: no
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def has_bf16_units(device: torch.device | str) -> bool:
    """Whether a CUDA GPU computes bfloat16 natively (compute capability 8.0, Ampere, or newer)."""
    # Not torch.cuda.is_bf16_supported(including_emulation=False): torch < 2.4 has no such
    # keyword, and without it emulated bf16 (T4-class GPUs, slower than fp32) counts as supported.
    return torch.cuda.get_device_capability(torch.device(device))[0] >= 8


def autocast(loss_fn: LossFn, precision: str, device_type: str) -> LossFn:
    """loss_fn under bf16/fp16 autocast (the loss itself keeps its terms in fp32); fp32 as it is."""
    if precision == "fp32":
        return loss_fn

    def run(image: torch.Tensor) -> LossTerms:
        with torch.autocast(device_type, dtype=AUTOCAST[precision]):
            return loss_fn(image)

    return run


class EagerPass:
    """Call it for the loss of synth() with fresh gradients; it keeps the terms and a count."""

    def __init__(self, synth: nn.Module, loss_fn: LossFn) -> None:
        self.synth, self.loss_fn = synth, loss_fn
        self.params = list(synth.parameters())
        self.terms: LossTerms | None = None  # the last call's terms
        self.evaluations = 0

    def compute(self) -> LossTerms:
        """One forward and backward pass (subclasses change how it runs)."""
        for p in self.params:
            p.grad = None
        terms = self.loss_fn(self.synth())
        terms.total.backward()
        return terms

    def __call__(self) -> torch.Tensor:
        """The optimisers' closure: run the pass, return the total loss."""
        self.terms = self.compute()
        self.evaluations += 1
        return self.terms.total


class CaptureFailed(RuntimeError):
    """The pass ran eagerly but could not be recorded as a CUDA graph."""


class GraphedPass(EagerPass):
    """The same pass recorded once as a CUDA graph and replayed: one launch instead of hundreds.

    On a GPU a pass is short enough that the CPU issuing its ~600 kernels one by one is the
    bottleneck. Recording costs three warm-up passes (not counted as evaluations). Replays
    reuse the recorded memory: the parameters are updated in place, and their .grad and the
    returned terms are overwritten by the next replay. A loss that cannot be recorded raises
    `CaptureFailed`; an error in the warm-up passes (e.g. out of memory) propagates as it is.
    """

    def __init__(self, synth: nn.Module, loss_fn: LossFn) -> None:
        super().__init__(synth, loss_fn)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm up off the main stream, as capture requires
            for _ in range(3):
                super().compute()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(self.graph):  # the grads it allocates live in the graph's memory
                self.recorded = super().compute()
        except RuntimeError as err:
            raise CaptureFailed(str(err)) from err

    def compute(self) -> LossTerms:
        """Replay the recorded pass."""
        self.graph.replay()
        return self.recorded


class ScaledPass(EagerPass):
    """fp16 pass with a dynamic loss scale, so small gradients do not underflow to zero.

    The loss is multiplied by `scale` before backward and the gradients divided by it after.
    A pass whose gradients overflow is run again at half the scale (within the same
    evaluation: `evaluations` counts calls, not retries);
    after `grow_every` clean passes the scale doubles. Eager only: the overflow check reads
    one number back per pass, which a CUDA graph cannot branch on.
    """

    def __init__(self, synth: nn.Module, loss_fn: LossFn, scale: float = 2.0**16, grow_every: int = 200):
        super().__init__(synth, loss_fn)
        self.scale, self.grow_every, self.clean = scale, grow_every, 0

    def compute(self) -> LossTerms:
        """One pass at the current scale; halve it and repeat while the gradients overflow."""
        while True:
            for p in self.params:
                p.grad = None
            terms = self.loss_fn(self.synth())
            (terms.total * self.scale).backward()
            if all(bool(p.grad.isfinite().all()) for p in self.params) or not terms.total.isfinite():
                break  # a non-finite loss is train's to report, not the scale's fault
            self.scale, self.clean = self.scale / 2, 0
            if self.scale < 1:
                raise NSTError("fp16 gradients overflow even without loss scaling; use precision='fp32'")
        for p in self.params:
            p.grad.div_(self.scale)
        self.clean += 1
        if self.clean % self.grow_every == 0:
            self.scale *= 2
        return terms


def make_pass(
    synth: nn.Module, loss_fn: LossFn, *, precision: str = "fp32", cuda_graph: bool | None = None
) -> EagerPass:
    """The pass `train` runs each step: eager, fp16-scaled, or a CUDA graph (default on a GPU)."""
    device = next(synth.parameters()).device
    precision = resolve_precision(precision, device)
    loss_fn = autocast(loss_fn, precision, device.type)
    if precision == "fp16":
        if cuda_graph:
            raise NSTError(
                "precision='fp16' runs eagerly (its loss scale needs a read-back); drop cuda_graph"
            )
        return ScaledPass(synth, loss_fn)
    if cuda_graph is None:
        cuda_graph = device.type == "cuda"
    if not cuda_graph:
        return EagerPass(synth, loss_fn)
    if device.type != "cuda":
        raise NSTError("cuda_graph=True needs the image on a CUDA device")
    return graphed_or_eager(synth, loss_fn)


def graphed_or_eager(synth: nn.Module, loss_fn: LossFn) -> EagerPass:
    """A `GraphedPass`, or an `EagerPass` with a warning if only the recording failed."""
    try:
        return GraphedPass(synth, loss_fn)
    except CaptureFailed as err:  # a loss that cannot be captured still trains, only slower
        warnings.warn(f"CUDA graph capture failed ({err}); running the pass eagerly", stacklevel=3)
        return EagerPass(synth, loss_fn)
