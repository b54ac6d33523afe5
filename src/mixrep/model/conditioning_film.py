"""FiLM (Perez et al. 2018): (γ, β) = MLP(h_mix), one pair per FiLM layer and per stem; after each block listed
in `layers` the residual stream becomes a' = γ ⊙ a + β. The MLP's last layer starts at zero and γ is
parameterised as 1 + Δγ, so a fresh model is exactly the unconditioned one (γ=1, β=0)."""

from __future__ import annotations

import torch
from torch import nn

from mixrep.model.conditioning import EncoderShape, Mechanism
from mixrep.model.conditionings import FilmSettings


class Film(Mechanism):
    """Args: shape (EncoderShape), settings (FilmSettings: layers, the blocks followed by FiLM; () = all)."""

    def __init__(self, shape: EncoderShape, settings: FilmSettings) -> None:
        super().__init__(shape, settings)
        bad = [k for k in settings.layers if not 0 <= k < shape.layers]
        if bad:
            raise ValueError(f"pretrain.conditioning.film.layers {bad} outside 0..{shape.layers - 1}")
        self.film_at: tuple[int, ...] = tuple(settings.layers) or tuple(range(shape.layers))
        hidden, out = shape.hidden, len(self.film_at) * shape.num_stems * 2 * shape.width
        self.net = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, out))
        nn.init.zeros_(self.net[-1].weight)  # γ = 1, β = 0 at start
        nn.init.zeros_(self.net[-1].bias)

    def begin(self, x: torch.Tensor, h_mix: torch.Tensor, per_family: torch.Tensor,
              stem_codes: torch.Tensor) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        batch, stems, width, n = h_mix.shape[0], self.shape.num_stems, self.shape.width, len(self.film_at)
        film = self.net(h_mix).reshape(batch, n, stems, 2, width)
        film = film.permute(1, 0, 2, 3, 4).reshape(n, batch * stems, 2, 1, width)  # FiLM layer, B·S, (γ, β), 1, d
        return x, {index: film[slot] for slot, index in enumerate(self.film_at)}

    def after_block(self, index: int, x: torch.Tensor, state: dict[int, torch.Tensor]) -> torch.Tensor:
        if index not in state:
            return x
        gamma_delta, beta = state[index][:, 0], state[index][:, 1]
        return (1.0 + gamma_delta) * x + beta
