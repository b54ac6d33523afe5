"""The Stage 2 regressor r_psi: a 2-layer MLP on frozen embeddings, trained with early stopping.

Kept apart from the experiment code (regress.py) so that another stage can load a trained regressor
(`load_regressor(path).predict(z)`) without pulling in data handling. A checkpoint describes itself (like
Demucs checkpoints): architecture arguments, input/target standardisation and weights are saved together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mixrep.torchfiles import load_tagged

CHECKPOINT_FORMAT = "mixrep.regressor/1"


class MLP(nn.Module):
    """Linear -> ReLU -> Dropout -> Linear: embedding (B, D) -> standardised score (B,).

    Args:
        in_dim: embedding size D.
        hidden: width of the hidden layer.
        dropout: dropout after the hidden layer (training only).
    """

    def __init__(self, in_dim: int, hidden: int = 64, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(-1)  # B


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings (config `regress`)."""

    hidden: int = 64
    dropout: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    max_epochs: int = 200
    patience: int = 20

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> TrainSettings:
        return cls(**{k: section[k] for k in cls.__dataclass_fields__ if k in section})


@dataclass
class Member:
    """One trained MLP with the standardisation it expects (z-scored inputs, z-scored target)."""

    seed: int
    in_dim: int
    hidden: int
    dropout: float
    state_dict: dict[str, torch.Tensor]
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float
    epochs: int = 0
    best_val_mse: float = float("nan")
    _model: MLP | None = field(default=None, repr=False)

    def predict(self, z: np.ndarray) -> np.ndarray:
        z = np.atleast_2d(np.asarray(z, dtype=np.float32))
        if z.shape[1] != self.in_dim:
            raise ValueError(f"regressor expects embeddings of size {self.in_dim}, got {z.shape[1]}")
        if self._model is None:
            self._model = MLP(self.in_dim, self.hidden, self.dropout)
            self._model.load_state_dict(self.state_dict)
            self._model.eval()
        x = torch.from_numpy(np.clip((z - self.x_mean) / self.x_std, -INPUT_CLIP, INPUT_CLIP))
        with torch.no_grad():
            out = self._model(x).numpy().astype(np.float64)
        return out * self.y_std + self.y_mean

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "in_dim": self.in_dim, "hidden": self.hidden, "dropout": self.dropout,
                "state_dict": self.state_dict, "x_mean": torch.from_numpy(self.x_mean),
                "x_std": torch.from_numpy(self.x_std), "y_mean": self.y_mean, "y_std": self.y_std,
                "epochs": self.epochs, "best_val_mse": self.best_val_mse}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Member:
        return cls(seed=int(data["seed"]), in_dim=int(data["in_dim"]), hidden=int(data["hidden"]),
                   dropout=float(data["dropout"]), state_dict=dict(data["state_dict"]),
                   x_mean=data["x_mean"].numpy(), x_std=data["x_std"].numpy(), y_mean=float(data["y_mean"]),
                   y_std=float(data["y_std"]), epochs=int(data["epochs"]), best_val_mse=float(data["best_val_mse"]))


INPUT_CLIP = 10.0  # standard deviations of the train inputs


def fit_mlp(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
            settings: TrainSettings, seed: int) -> Member:
    """Adam on MSE; stop when the validation MSE has not improved for `patience` epochs; keep the best epoch.

    Randomness (initialisation, dropout, batch order) comes from `seed` only: torch's global generator is
    forked and seeded inside this call, so the caller's random state is untouched.
    """
    x_train = np.asarray(x_train, dtype=np.float32)
    x_mean = x_train.mean(axis=0)
    x_std = x_train.std(axis=0)
    x_std = np.where(x_std > 1e-8, x_std, 1.0).astype(np.float32)
    # a column almost constant on the train songs (a sentinel, a rarely active stem) would scale unseen
    # values into the thousands and the MLP's prediction with them: standardised inputs are clipped
    y_mean = float(np.mean(y_train))
    y_std = float(np.std(y_train)) or 1.0

    def tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        xs = np.clip((np.asarray(x, dtype=np.float32) - x_mean) / x_std, -INPUT_CLIP, INPUT_CLIP)
        ys = (np.asarray(y, dtype=np.float64) - y_mean) / y_std
        return torch.from_numpy(xs.astype(np.float32)), torch.from_numpy(ys.astype(np.float32))

    xt, yt = tensors(x_train, y_train)
    xv, yv = tensors(x_val, y_val)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MLP(xt.shape[1], settings.hidden, settings.dropout)
        optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        order_rng = torch.Generator().manual_seed(seed)
        best_mse, best_state, best_epoch, epoch = float("inf"), None, 0, 0
        for epoch in range(1, settings.max_epochs + 1):
            model.train()
            for batch in torch.randperm(len(xt), generator=order_rng).split(settings.batch_size):
                optimiser.zero_grad()
                loss = nn.functional.mse_loss(model(xt[batch]), yt[batch])
                loss.backward()
                optimiser.step()
            model.eval()
            with torch.no_grad():
                val_mse = float(nn.functional.mse_loss(model(xv), yv))
            if val_mse < best_mse - 1e-6:
                best_mse, best_epoch = val_mse, epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            elif epoch - best_epoch >= settings.patience:
                break
    assert best_state is not None
    return Member(seed=seed, in_dim=int(xt.shape[1]), hidden=settings.hidden, dropout=settings.dropout,
                  state_dict=best_state, x_mean=x_mean.astype(np.float32), x_std=x_std, y_mean=y_mean,
                  y_std=y_std, epochs=epoch, best_val_mse=best_mse * y_std**2)


@dataclass
class QualityRegressor:
    """Predicts quality scores from an encoder's embeddings: one MLP per encoder seed.

    `predict(z)` uses the member of `default_seed` (the encoder seed `encoder` names); pass `seed=` to use the
    member trained on another seed's encoder. Embeddings of a different encoder give meaningless scores.
    """

    members: dict[int, Member]
    default_seed: int
    info: dict[str, Any]

    def predict(self, z: np.ndarray, seed: int | None = None) -> np.ndarray:
        """Scores (N,) for embeddings z (N, D) or (D,), in the units of the ratings (info['scale'])."""
        seed = self.default_seed if seed is None else seed
        if seed not in self.members:
            raise KeyError(f"no regressor member for encoder seed {seed} (have {sorted(self.members)})")
        return self.members[seed].predict(z)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format": CHECKPOINT_FORMAT, "class": "mixrep.evaluation.mlp.QualityRegressor",
                    "default_seed": self.default_seed, "info": self.info,
                    "members": [m.to_dict() for m in self.members.values()]}, path)
        return path


def load_regressor(path: str | Path) -> QualityRegressor:
    """Rebuild a `QualityRegressor` from `regressor.pt` (no config needed)."""
    data = load_tagged(path, CHECKPOINT_FORMAT, "mixrep regressor checkpoint")
    members = {int(m["seed"]): Member.from_dict(m) for m in data["members"]}
    return QualityRegressor(members=members, default_seed=int(data["default_seed"]), info=dict(data["info"]))
