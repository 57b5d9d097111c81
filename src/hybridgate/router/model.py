"""L2-regularised logistic regression, fitted by Newton's method in numpy.

Small, deterministic and dependency-free; at runtime a score is one dot product and a sigmoid.
Labels may be fractional (a weak model's expected accuracy over samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Linear:
    mean: FloatArray
    std: FloatArray
    weights: FloatArray
    bias: float

    def logits(self, x: npt.NDArray[np.floating]) -> FloatArray:
        z: FloatArray = ((x - self.mean) / self.std) @ self.weights + self.bias
        return z

    def predict(self, x: npt.NDArray[np.floating]) -> FloatArray:
        return sigmoid(self.logits(x))


def sigmoid(z: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))
    return out


def fit_logistic(
    x: npt.NDArray[np.floating],
    y: npt.NDArray[np.floating],
    *,
    l2: float | npt.NDArray[np.float64] = 1.0,
    iters: int = 25,
) -> Linear:
    """Minimise log-loss + sum(l2 * w^2) / 2 on standardised features (bias unpenalised).

    `l2` may be one number or one per feature: a feature trusted to transfer can be penalised less.
    """
    x64 = np.asarray(x, dtype=np.float64)
    mean = x64.mean(axis=0)
    std = x64.std(axis=0)
    std[std < 1e-9] = 1.0
    z = np.c_[(x64 - mean) / std, np.ones(len(x64))]
    t = np.asarray(y, dtype=np.float64)
    reg = np.zeros(z.shape[1])
    reg[:-1] = l2
    w = np.zeros(z.shape[1])
    for _ in range(iters):
        p = sigmoid(z @ w)
        grad = z.T @ (p - t) + reg * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return Linear(mean, std, w[:-1], float(w[-1]))
