"""L-BFGS as style transfer uses it: unit steps, no line search, and no waiting on the GPU.

The direction is the classic two-loop recursion (Nocedal & Wright, Algorithm 7.4) over the
last m steps s_i and gradient changes y_i. Written as two loops of m dot products, each loop
turn needs the previous one's result, and torch.optim.LBFGS reads each of those numbers back
to the CPU: 2m host-device round trips per step, which cost more than the VGG pass on a GPU
(measured side by side in benchmarks/results/cuda.md). Here the same recursion is solved as two m x m triangular systems built from the matrix
of dot products s_i . y_j, so a step is a few dozen tensor operations and never reads a
number back. Same iterates as torch.optim.LBFGS(lr, max_iter=1) up to rounding (tested), with
one difference: a pair without positive curvature (s . y <= 1e-10) is ignored in its slot
rather than dropped (dropping it would need that read-back), so it shortens the memory by one.

Without a line search a unit step trusts the curvature estimate blindly, and early on that estimate
comes from a few tiny steps: where the start is nearly flat along them (a photo with large areas of
pure white, clamped by `InRange`), it can be orders of magnitude too large, and one step throws the
image away (measured: a portrait photo with the Great Wave, loss 20 -> 1473 at step 4, never
recovered). So each step may be at most `max_growth` times as long as the one before (10 by default;
None gives torch's iterates exactly): the first steps grow geometrically instead of jumping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

#: Pairs (step, gradient change) kept: Johnson's neural-style default; `nstlib.resources` counts them.
LBFGS_HISTORY = 100
#: A step is at most this many times as long as the previous one (see the module's docstring).
MAX_GROWTH = 10.0


class LBFGS:
    """L-BFGS with a fixed step `lr` (the first as torch's, later ones at most `max_growth` x the last), `history_size` pairs.

    It has torch optimisers' `step(closure)`, `param_groups` and `defaults`, but is no subclass of
    torch.optim.Optimizer: building the first of those in a process imports torch._dynamo, which
    took 2 s of a command-line run's 4 s before its first step on a 2-core CPU.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1.0,
        history_size: int = LBFGS_HISTORY,
        max_growth: float | None = MAX_GROWTH,
    ) -> None:
        self._params = list(params)
        self.max_growth = max_growth
        self.defaults = {"lr": lr}
        self.param_groups = [{"params": self._params, "lr": lr}]
        n = sum(p.numel() for p in self._params)
        ref = self._params[0]
        self.m = history_size
        self.S = ref.new_zeros(history_size, n)  # steps s_i, one per row, in ring-buffer slots
        self.Y = ref.new_zeros(history_size, n)  # gradient changes y_i
        self.SY = ref.new_zeros(history_size, history_size)  # SY[i, j] = s_i . y_j
        self.rho = ref.new_zeros(history_size)  # 1 / (s_i . y_i); 0 marks a pair to ignore
        self.gamma = ref.new_ones(())  # scale of the initial inverse Hessian, s.y / y.y
        self.pairs = 0  # pairs written so far (a host-side count: no read-back)
        self.prev_grad: torch.Tensor | None = None
        self.step_taken: torch.Tensor | None = None

    def zero_grad(self) -> None:
        """Drop the parameters' gradients, as torch's optimisers do."""
        for p in self._params:
            p.grad = None

    def _flat_grad(self) -> torch.Tensor:
        return torch.cat([p.grad.reshape(-1) for p in self._params])

    @torch.no_grad()
    def _remember(self, s: torch.Tensor, y: torch.Tensor) -> None:
        """Store the pair (s, y) in the oldest slot; a pair with s.y <= 1e-10 gets rho = 0 (ignored)."""
        k = self.pairs % self.m
        ys = y.dot(s)
        curved = ys > 1e-10  # torch's test; as a tensor, so no read-back
        self.S[k], self.Y[k] = s, y
        self.SY[k] = self.Y @ s
        self.SY[:, k] = self.S @ y
        self.rho[k] = torch.where(curved, 1 / ys, torch.zeros_like(ys))
        self.gamma = torch.where(curved, ys / y.dot(y), self.gamma)
        self.pairs += 1

    @torch.no_grad()
    def direction(self, grad: torch.Tensor) -> torch.Tensor:
        """-H grad, H the L-BFGS inverse-Hessian estimate (the two-loop recursion in matrix form)."""
        p = min(self.pairs, self.m)
        order = (torch.arange(p, device=grad.device) + self.pairs - p) % self.m  # slots, oldest first
        M = self.SY[order][:, order]  # M[a, b] = s_a . y_b, chronological
        rho = self.rho[order]
        eye = torch.eye(p, dtype=grad.dtype, device=grad.device)
        q = -grad
        # Loop 1, newest to oldest: a_i = rho_i s_i . (q - sum over newer j of a_j y_j).
        # Collecting the a_i: (I + diag(rho) triu(M, 1)) a = rho * (S q), upper triangular.
        upper = eye + rho[:, None] * torch.triu(M, 1)
        a = torch.linalg.solve_triangular(upper, (rho * (self.S @ q)[order])[:, None], upper=True)[:, 0]
        r = self.gamma * (q - self.Y.T @ torch.zeros_like(self.rho).index_copy(0, order, a))
        # Loop 2, oldest to newest: c_i = a_i - rho_i y_i . (r + sum over older j of c_j s_j),
        # i.e. (I + diag(rho) tril(M^T, -1)) c = a - rho * (Y r), lower triangular.
        lower = eye + rho[:, None] * torch.tril(M.T, -1)
        c = torch.linalg.solve_triangular(lower, (a - rho * (self.Y @ r)[order])[:, None], upper=False)[:, 0]
        return r + self.S.T @ torch.zeros_like(self.rho).index_copy(0, order, c)

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        """Evaluate `closure` (it must compute the loss and its gradients), then move the parameters."""
        with torch.enable_grad():
            loss = closure()
        grad = self._flat_grad()
        lr = self.param_groups[0]["lr"]
        if self.prev_grad is None:
            # torch's first step: the steepest-descent direction, at most lr / |grad|_1 long
            d = -grad
            t = torch.clamp(1 / grad.abs().sum(), max=1.0) * lr
        else:
            self._remember(self.step_taken, grad - self.prev_grad)
            d = self.direction(grad)
            t = torch.as_tensor(lr, dtype=grad.dtype, device=grad.device)
            if self.max_growth is not None:  # as a tensor: no read-back
                limit = self.max_growth * self.step_taken.norm()
                t = t * torch.clamp(limit / (t * d.norm()).clamp_min(torch.finfo(d.dtype).tiny), max=1.0)
        self.prev_grad = grad.clone()
        self.step_taken = d * t
        offset = 0
        for p in self._params:
            p.add_(self.step_taken[offset : offset + p.numel()].view_as(p))
            offset += p.numel()
        return loss
