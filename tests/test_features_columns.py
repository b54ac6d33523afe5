"""The column contract (names, families, units, sentinels), the family registry, and the settings/schema
agreement."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from mixrep.features import FeatureSettings, family_columns, feature_columns
from mixrep.features.columns import KEY_COLUMNS, TARGETS, column_specs, markdown_table, sentinels
from mixrep.features.families import FAMILIES
from mixrep.stems import STEMS

NAME = re.compile(rf"^({'|'.join(FAMILIES)})\.({'|'.join(TARGETS)})\.[a-z0-9_]+$")


def test_every_column_is_family_target_name_and_unique() -> None:
    names = feature_columns()
    assert len(names) == len(set(names))
    assert all(NAME.match(name) for name in names), [n for n in names if not NAME.match(n)]
    assert not set(KEY_COLUMNS) & set(names)


def test_families_partition_the_columns_in_order() -> None:
    joined = [name for family in FAMILIES for name in family_columns(family)]
    assert joined == feature_columns()
    assert family_columns(["stereo", "masking"]) == family_columns("stereo") + family_columns("masking")
    with pytest.raises(ValueError, match="unknown feature families"):
        family_columns("timbre")


def test_required_features_exist_for_every_stem_and_the_mix() -> None:
    names = set(feature_columns())
    for target in TARGETS:
        for feature in ("dynamics.{}.active", "dynamics.{}.rms_db", "dynamics.{}.crest_db",
                        "dynamics.{}.loudness_lufs", "dynamics.{}.dr_lu", "dynamics.{}.lra_lu",
                        "spectral.{}.band1k_db", "spectral.{}.low_high_db", "spectral.{}.tilt_db_per_oct",
                        "spectral.{}.flatness_db", "stereo.{}.ild_db", "stereo.{}.correlation",
                        "stereo.{}.mid_db", "stereo.{}.side_db", "stereo.{}.msr"):
            assert feature.format(target) in names
    for stem in STEMS:
        assert f"dynamics.{stem}.rel_loudness_lu" in names
        assert f"spectral.{stem}.band1k_delta_db" in names
        assert f"masking.{stem}.masking" in names
    assert "dynamics.mix.rel_loudness_lu" not in names


def test_every_column_is_documented_with_unit_and_finite_sentinel() -> None:
    for spec in column_specs():
        assert spec.unit and len(spec.description) > 10
    assert set(sentinels()) == set(feature_columns())
    table = markdown_table()
    for spec in column_specs():
        assert f".{spec.feature}`" in table


def test_settings_defaults_match_the_schema(repo_root: Path) -> None:
    schema = yaml.safe_load((repo_root / "workflow/schemas/sections/features.schema.yaml").read_text())
    properties = schema["properties"]
    defaults = FeatureSettings()
    assert set(properties) == {f.name for f in fields(FeatureSettings) if not f.metadata.get("patched")}
    for name, spec in properties.items():
        assert spec["default"] == getattr(defaults, name), name
        assert spec.get("description"), name
    assert schema["additionalProperties"] is False


def test_config_blocks_are_valid_settings(repo_root: Path) -> None:
    for path in ("config.yaml", "tests/config.test.yaml"):
        section = yaml.safe_load((repo_root / path).read_text())["features"]
        FeatureSettings.from_config(section)


def test_settings_accept_section_or_payload_and_reject_bad_values() -> None:
    assert FeatureSettings.from_config({"seed": 0, "features": {"n_mels": 32}}).n_mels == 32
    assert FeatureSettings.from_config({"n_mels": 32}).n_mels == 32
    with pytest.raises(ValueError, match="band_weighting"):
        FeatureSettings(band_weighting="b_weighting")
    with pytest.raises(ValueError, match="segment_s"):
        FeatureSettings(segment_s=0)


def test_user_docs_hold_the_current_column_table(repo_root: Path) -> None:
    assert markdown_table() in (repo_root / "docs/features.md").read_text()


def test_user_docs_hold_the_current_family_table(repo_root: Path) -> None:
    from mixrep.features.families import markdown_table as family_table

    assert family_table() in (repo_root / "docs/features.md").read_text()
