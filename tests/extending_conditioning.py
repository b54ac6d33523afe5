"""Adding a conditioning mechanism in a copy of the repository: its module and its registry line, nothing else.

`add_dummy(root)` writes `src/mixrep/model/conditioning_dummy.py` (h_mix projected to d and added to every
token of every stem: an input bias) and registers it in `src/mixrep/model/conditionings.py`. Then the cells
`dummy-<families>` exist (`mixrep.runs`), `ablation.conditioning: [dummy]` validates, the rules plan them and
the encoder builds them. `OVERLAY` enables it over tests/config.test.yaml; `SMOKE` trains the dummy cell one
step and round-trips its checkpoint (run with `PYTHONPATH=<root>/src`, cwd `<root>`). docs/EXTENDING.md
walks through the same steps; tests/test_model_conditionings.py runs `SMOKE` against MODULE in-process.
"""

from __future__ import annotations

from pathlib import Path

NAME = "dummy"

MODULE = '''"""A dummy conditioning mechanism: h_mix, projected to the token width, is added to every token."""

from __future__ import annotations

import torch
from torch import nn

from mixrep.model.conditioning import EncoderShape, Mechanism
from mixrep.model.conditionings import NoSettings


class Dummy(Mechanism):
    """Args: shape (EncoderShape), settings (none)."""

    def __init__(self, shape: EncoderShape, settings: NoSettings) -> None:
        super().__init__(shape, settings)
        self.proj = nn.Linear(shape.hidden, shape.width)

    def begin(self, x: torch.Tensor, h_mix: torch.Tensor, per_family: torch.Tensor,
              stem_codes: torch.Tensor) -> tuple[torch.Tensor, None]:
        bias = self.proj(h_mix).repeat_interleave(self.shape.num_stems, dim=0)  # B·S, d
        return x + bias[:, None, :], None
'''

REGISTRY = "src/mixrep/model/conditionings.py"
REGISTER_AFTER = '''                                             "every block cross-attends to the per-family embeddings h_j"))
'''
REGISTER = (f'CONDITIONINGS.register("{NAME}", Conditioning("mixrep.model.conditioning_{NAME}:Dummy", NoSettings,\n'
            '                                           "h_mix added to every token"))\n')

OVERLAY = {"ablation": {"conditioning": ["film", NAME], "recipe_conditioning": [NAME]}}

SMOKE = '''
import tempfile
from pathlib import Path

import torch

from mixrep.model.checkpoint import EncoderCheckpoint, load_checkpoint, save_checkpoint
from mixrep.model.losses import info_nce
from mixrep.pretrain.config import PretrainSettings, build_model
from mixrep.runs import CONDITIONINGS, grid, parse_run

assert "dummy" in CONDITIONINGS and "dummy-all" in [spec.name for spec in grid()]
settings = PretrainSettings.from_config({"pretrain": {
    "preset": "tiny", "presets": {"tiny": {"layers": 1, "width": 16, "heads": 2}}, "cond_hidden": 8}})
spec = parse_run("dummy-all")
dims = {family: 3 for family in spec.families}
model = build_model(spec.name, settings, dims, seed=0)
assert type(model.mechanism).__name__ == "Dummy", model.mechanism
gen = torch.Generator().manual_seed(0)
n_mels = settings.mel_config().n_mels
views = [torch.randn(4, 4, 2, n_mels, 16, generator=gen) for _ in range(2)]
features = {family: torch.randn(4, dim, generator=gen) for family, dim in dims.items()}
optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
before = model.mechanism.proj.weight.detach().clone()
loss = info_nce(model(views[0], features), model(views[1], features), settings.temperature)
loss.backward()
assert model.mechanism.proj.weight.grad.abs().sum() > 0, "the features do not reach the loss"
optimiser.step()
assert torch.isfinite(loss) and not torch.equal(before, model.mechanism.proj.weight)
model.eval()
with tempfile.TemporaryDirectory() as tmp:
    meta = EncoderCheckpoint(model_class="mixrep.model.encoder.MixEncoder", model_kwargs=model.kwargs(),
                             run=spec.name, mel={}, segment_frames=16)
    loaded, _ = load_checkpoint(save_checkpoint(Path(tmp) / "encoder.pt", model, meta))
    torch.testing.assert_close(loaded(views[0], features), model(views[0], features), rtol=0, atol=0)
moved = {**features, "stereo": features["stereo"] + 5.0}
assert not torch.allclose(model(views[0], features), model(views[0], moved)), "the features change nothing"
print(f"dummy conditioning ok: one step, loss {loss.item():.3f}")
'''


def add_dummy(root: Path) -> list[Path]:
    """Write the dummy mechanism into the repository copy at `root`; return the files written or edited."""
    root = Path(root)
    module = root / "src" / "mixrep" / "model" / f"conditioning_{NAME}.py"
    module.write_text(MODULE)
    registry = root / REGISTRY
    text = registry.read_text()
    if REGISTER_AFTER not in text:
        raise ValueError(f"{registry}: no line {REGISTER_AFTER.strip()!r} (the registry changed: update this script)")
    registry.write_text(text.replace(REGISTER_AFTER, REGISTER_AFTER + REGISTER, 1))
    return [module, registry]
