"""Encoder and conditioning: shapes per mode, FiLM identity at start, per-family masking, checkpoints (also those
written before the conditioning registry: tests/reference/encoder_checkpoints_v1.pt)."""

from __future__ import annotations

import pytest
import torch

from pathlib import Path

from mixrep.model.checkpoint import EncoderCheckpoint, load_checkpoint, save_checkpoint
from mixrep.model.conditionings import CONDITIONINGS
from mixrep.model.encoder import LEGACY_FAMILIES, EncoderSettings, MixEncoder
from mixrep.runs import FAMILIES

DIMS = {"dynamics": 5, "spectral": 4, "stereo": 3, "masking": 2}


GOLDEN = Path(__file__).parent / "reference" / "encoder_checkpoints_v1.pt"


def small(mode: str) -> EncoderSettings:
    return EncoderSettings(n_mels=16, width=16, layers=2, heads=2, patch_frames=4, cond_hidden=8, conditioning=mode)


def features(batch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {name: torch.randn(batch, dim, generator=gen) for name, dim in DIMS.items()}


def mels(batch: int = 3, frames: int = 24) -> torch.Tensor:
    return torch.randn(batch, 4, 2, 16, frames, generator=torch.Generator().manual_seed(1))


def randomise_film_head(model: MixEncoder) -> None:
    """Give the zero-initialised FiLM output layer weights, so conditioning has an effect."""
    with torch.no_grad():
        model.mechanism.net[-1].weight.normal_(0, 0.5)
        model.mechanism.net[-1].bias.normal_(0, 0.5)


@pytest.mark.parametrize("mode", ["none", *CONDITIONINGS])
def test_shapes_every_mode(mode: str) -> None:
    torch.manual_seed(0)
    model = MixEncoder(small(mode), DIMS, settings={"tokens": 2} if mode == "prepend" else None)
    z = model(mels(), features(3))
    assert z.shape == (3, 4 * 16)
    assert torch.isfinite(z).all()
    assert model.embedding_dim == 64
    assert model.mode == mode


def test_no_families_means_unconditioned() -> None:
    model = MixEncoder(small("xattn"), {})
    assert model.mode == "none" and model.conditioner is None and model.mechanism is None
    assert model(mels(), None).shape == (3, 64)


def test_film_is_identity_at_start() -> None:
    torch.manual_seed(0)
    film = MixEncoder(small("film"), DIMS)
    plain = MixEncoder(small("none"), {})
    missing, unexpected = plain.load_state_dict(film.state_dict(), strict=False)
    assert not missing
    assert all(k.startswith(("mechanism.", "conditioner.")) for k in unexpected)
    x = mels()
    torch.testing.assert_close(film(x, features(3, seed=1)), plain(x))
    torch.testing.assert_close(film(x, features(3, seed=1)), film(x, features(3, seed=2)))


def test_film_changes_output_once_trained_weights_are_nonzero() -> None:
    torch.manual_seed(0)
    film = MixEncoder(small("film"), DIMS, settings={"layers": [1]})
    assert film.mechanism.film_at == (1,)
    randomise_film_head(film)
    x = mels()
    assert not torch.allclose(film(x, features(3, seed=1)), film(x, features(3, seed=2)))


@pytest.mark.parametrize("mode", CONDITIONINGS.names())
@pytest.mark.parametrize("disabled", FAMILIES)
def test_disabled_family_has_no_influence(mode: str, disabled: str) -> None:
    torch.manual_seed(0)
    enabled = {k: v for k, v in DIMS.items() if k != disabled}
    model = MixEncoder(small(mode), enabled)
    if mode == "film":
        randomise_film_head(model)
    x, base = mels(), features(3)
    changed = dict(base)
    changed[disabled] = base[disabled] + 10.0
    torch.testing.assert_close(model(x, base), model(x, changed))
    other = next(iter(enabled))
    moved = dict(base)
    moved[other] = base[other] + 10.0
    assert not torch.allclose(model(x, base), model(x, moved))


def test_stems_share_weights_but_not_embeddings() -> None:
    torch.manual_seed(0)
    model = MixEncoder(small("none"), {})
    x = mels(batch=1)
    x[:, :] = x[:, :1]  # the same spectrogram in all four stems
    z = model(x).reshape(4, 16)
    assert not torch.allclose(z[0], z[1])  # the stem embedding tells them apart
    with torch.no_grad():
        model.stem_embedding.weight.zero_()
    z = model(x).reshape(4, 16)
    torch.testing.assert_close(z[0], z[3])


def test_checkpoint_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    model = MixEncoder(small("xattn"), {"stereo": 3, "masking": 2})
    meta = EncoderCheckpoint(model_class="mixrep.model.encoder.MixEncoder", model_kwargs=model.kwargs(),
                             run="xattn-no_dynamics", mel={"n_mels": 16}, segment_frames=24,
                             feature_columns={"stereo": ["stereo.mix.a", "stereo.mix.b", "stereo.mix.c"],
                                              "masking": ["masking.vocals.a", "masking.bass.a"]},
                             feature_mean={"stereo": [0.0] * 3, "masking": [1.0, 2.0]},
                             feature_std={"stereo": [1.0] * 3, "masking": [3.0, 4.0]})
    path = save_checkpoint(tmp_path / "encoder.pt", model, meta)
    loaded, loaded_meta = load_checkpoint(path)
    assert loaded_meta == meta
    x, f = mels(), features(3)
    torch.testing.assert_close(loaded(x, f), model.eval()(x, f))


def test_bad_checkpoint_names_the_file(tmp_path) -> None:
    path = tmp_path / "broken.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="broken.pt"):
        load_checkpoint(path)
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a mixrep encoder checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


@pytest.mark.parametrize("mode", CONDITIONINGS.names())
def test_checkpoint_records_families_and_settings(tmp_path, mode: str) -> None:
    """A checkpoint carries the families its encoder knew: code that knows more families still rebuilds it."""
    torch.manual_seed(0)
    settings = {"film": {"layers": [0]}, "prepend": {"tokens": 3}}.get(mode, {})
    model = MixEncoder(small(mode), {"stereo": 3, "masking": 2}, families=FAMILIES, settings=settings)
    assert model.kwargs()["families"] == list(FAMILIES) and model.kwargs()["settings"] == settings
    meta = EncoderCheckpoint(model_class="mixrep.model.encoder.MixEncoder", model_kwargs=model.kwargs(),
                             run=f"{mode}-all", mel={"n_mels": 16}, segment_frames=24)
    path = save_checkpoint(tmp_path / "encoder.pt", model, meta)
    loaded, _ = load_checkpoint(path)
    assert loaded.families == FAMILIES and loaded.settings == model.settings
    x, f = mels(), features(3)
    torch.testing.assert_close(loaded(x, f), model.eval()(x, f), rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["none", "film", "prepend", "xattn"])
def test_checkpoints_from_before_the_registry_load_unchanged(tmp_path, monkeypatch, mode: str) -> None:
    """The reference file holds checkpoints written by the code of 129158f (mechanism settings in the config,
    no `families`, other parameter names), an input and their outputs: they load and give the same z, also
    when the code knows a family more than they do."""
    golden = torch.load(GOLDEN, weights_only=True)
    monkeypatch.setattr("mixrep.runs.FAMILIES", (*FAMILIES, "rhythm"))  # loading must not read the global list
    path = tmp_path / "encoder.pt"
    torch.save(golden["checkpoints"][mode], path)
    model, meta = load_checkpoint(path)
    assert "families" not in meta.model_kwargs  # the file as written
    assert model.families == LEGACY_FAMILIES
    if mode == "xattn":
        assert model.mechanism.family_embedding.num_embeddings == len(LEGACY_FAMILIES)
    settings = {"film": {"layers": (0,)}, "prepend": {"tokens": 2}}.get(mode)
    if settings:
        assert vars(model.settings) == settings
    torch.testing.assert_close(model(golden["mels"], golden["features"]), golden["outputs"][mode], rtol=0, atol=0)


def test_every_registered_mechanism_builds_through_one_interface() -> None:
    torch.manual_seed(0)
    for name in CONDITIONINGS:
        model = MixEncoder(small(name), DIMS, families=FAMILIES)
        implementation = CONDITIONINGS.get(name).implementation.split(":")[1]
        assert model.mode == name and type(model.mechanism).__name__ == implementation
        assert model(mels(), features(3)).shape == (3, 64)


def test_mechanism_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="pretrain.conditioning.film: unknown keys"):
        MixEncoder(small("film"), DIMS, settings={"tokens": 2})
    with pytest.raises(ValueError, match="film.layers"):
        MixEncoder(small("film"), DIMS, settings={"layers": [2]})  # only blocks 0 and 1
    with pytest.raises(ValueError, match="conditioning must be one of"):
        small("gru")
