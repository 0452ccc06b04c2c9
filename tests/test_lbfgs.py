import pytest
import torch

from nstlib.lbfgs import LBFGS


def two_loop(grad, pairs, gamma):
    """Nocedal & Wright's Algorithm 7.4, written out as loops: the reference."""
    q, alphas = -grad.clone(), []
    for s, y in reversed(pairs):
        a = s.dot(q) / y.dot(s)
        q -= a * y
        alphas.append(a)
    r = gamma * q
    for (s, y), a in zip(pairs, reversed(alphas)):
        b = y.dot(r) / y.dot(s)
        r += s * (a - b)
    return r


def test_direction_is_the_two_loop_recursion_and_skips_flat_pairs():
    torch.manual_seed(0)
    n, m = 50, 4
    opt = LBFGS([torch.zeros(n, dtype=torch.float64, requires_grad=True)], history_size=m)
    kept = []
    for i in range(7):  # more pairs than slots: the oldest are overwritten
        s = torch.randn(n, dtype=torch.float64)
        y = s + 0.3 * torch.randn(n, dtype=torch.float64)  # s . y > 0: a curved pair
        if i == 5:
            y = -s  # negative curvature: stored but ignored, as torch.optim.LBFGS skips it
        opt._remember(s, y)
        if i != 5:
            kept.append((s, y))
            gamma = s.dot(y) / y.dot(y)
    grad = torch.randn(n, dtype=torch.float64)
    expected = two_loop(grad, kept[-(m - 1) :], gamma)  # 3 curved pairs in the last 4 slots
    torch.testing.assert_close(opt.direction(grad), expected)


def rosenbrock(x):
    return ((1 - x[0::2]) ** 2 + 100 * (x[1::2] - x[0::2] ** 2) ** 2).sum()


A = torch.tensor([[3.0, 1.0, 0.2], [1.0, 2.0, 0.5], [0.2, 0.5, 1.0]], dtype=torch.float64)


def quadratic(x):
    x = x.view(2, 3)
    return 0.5 * (x @ A * x).sum() + x.sum() + 0.1 * (x**4).sum()


# Rosenbrock has stretches of negative curvature: torch drops such pairs, nstlib keeps them in a
# slot with no effect, so they agree while the history is not full. On the convex function every
# pair counts, so a 3-pair history wraps around several times (before torch's tolerances stop it
# at the optimum, near step 19).
@pytest.mark.parametrize(("f", "history", "steps"), [(rosenbrock, 100, 25), (quadratic, 3, 14)])
def test_same_iterates_as_torch_lbfgs(f, history, steps):
    start = torch.tensor([-1.2, 1.0, 0.5, -0.5, 1.5, 2.0], dtype=torch.float64)
    paths = []
    for make in (
        lambda p: torch.optim.LBFGS(p, lr=0.5, max_iter=1, history_size=history),
        lambda p: LBFGS(p, lr=0.5, history_size=history, max_growth=None),
    ):
        x = start.clone().requires_grad_(True)
        opt = make([x])

        def closure(x=x, opt=opt, f=f):
            opt.zero_grad()
            loss = f(x)
            loss.backward()
            return loss

        path = []
        for _ in range(steps):
            opt.step(closure)
            path.append(x.detach().clone())
        paths.append(torch.stack(path))
    assert f(paths[1][-1]) < f(start) - 0.5 * (f(start) - f(paths[0][-1]))  # it does optimise
    torch.testing.assert_close(paths[1], paths[0], rtol=1e-9, atol=1e-9)


def flat_start(x):
    """A wide, shallow bowl: a tiny first step (1 / |grad|_1) and then a curvature estimate 1e4 x longer."""
    scales = torch.linspace(1e-3, 2e-3, x.numel(), dtype=x.dtype)
    return 0.5 * (scales * (x - 1) ** 2).sum()


def step_lengths(max_growth, steps=12):
    x = torch.zeros(10_000, dtype=torch.float64, requires_grad=True)
    opt = LBFGS([x], history_size=5, max_growth=max_growth)

    def closure():
        opt.zero_grad()
        loss = flat_start(x)
        loss.backward()
        return loss

    lengths, losses = [], []
    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
        lengths.append(float(opt.step_taken.norm()))
    return torch.tensor(lengths), losses


def test_max_growth_bounds_each_step_by_the_last():
    free, _ = step_lengths(None)
    capped, losses = step_lengths(10.0)
    assert (free[1:] / free[:-1]).max() > 100  # unbounded, the second step jumps
    assert (capped[1:] / capped[:-1]).max() <= 10 * (1 + 1e-9)
    assert losses[-1] < 0.5 * losses[0]  # and it still optimises
