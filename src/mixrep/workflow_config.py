"""The workflow's config checks: one short line for every config mistake, and the files a config points to.

common.smk calls `check_or_stop` once, before any rule is defined, and takes every external input file (a
checkpoint, a ratings CSV, ...) from `external_inputs`, so that such a file is a real rule input: missing, the
run stops here naming its config key; edited, what depends on it reruns. The messages are one line,
``config error: <key>: <value>: <what is allowed>``, because a schema dump or an exception from deep inside
the DAG tells a user neither which key is wrong nor what to write instead.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from mixrep.runs import CONDITIONINGS, FAMILY_SETS, POSITIVES, grid, parse_run
from mixrep.separation import separators
from mixrep.separation.separators import SEPARATORS

MAX_VALUE_CHARS = 60
CELL_STAGES: tuple[str, ...] = ("pretrain", "embed", "regress", "tsne", "evaluate", "crossed")  # .../<cell>/...
# controls evaluated beside the cells (docs/evaluation.md, "Controls"): not cells, but valid path segments
NOT_CELLS: tuple[str, ...] = ("random-init", "features-only", "levels", "is-reference", "severity")
AUDIO_ONLY_SUFFIX = ".audio-only"  # results/embed/<cell>.audio-only: a conditioned cell with features zeroed
FMA_TRACKS = "fma_metadata/tracks.csv"  # what mixrep.datasets.fma reads under dataset.root
FMA_GENRES = "fma_metadata/genres.csv"  # read when present (genre names check)


class ConfigError(Exception):
    """A config value the user must change: which key, the value given and what is allowed instead."""

    def __init__(self, key: str, value: Any, allowed: str, kind: str = "config") -> None:
        self.key, self.value, self.allowed, self.kind = key, value, allowed, kind
        super().__init__(self.line())

    def line(self) -> str:
        return f"{self.kind} error: {self.key}: {short_repr(self.value)}: {self.allowed}"


def short_repr(value: Any) -> str:
    """A value as the user wrote it, cut so that the message stays one line."""
    text = repr(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


# ---------------------------------------------------------------- schema errors
def key_path(parts: Any) -> str:
    """['ablation', 'conditioning', 1] -> 'ablation.conditioning[1]' (the empty path is the top level)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _allowed(error: Any) -> str:
    """What the schema accepts at the failing place, in words (jsonschema's own message as the fallback)."""
    kind, limit = error.validator, error.validator_value
    words = {
        "enum": lambda: "must be one of " + ", ".join(str(v) for v in limit),
        "const": lambda: f"must be {limit!r}",
        "type": lambda: "must be of type " + (" or ".join(limit) if isinstance(limit, list) else str(limit)),
        "minimum": lambda: f"must be >= {limit}",
        "maximum": lambda: f"must be <= {limit}",
        "exclusiveMinimum": lambda: f"must be > {limit}",
        "exclusiveMaximum": lambda: f"must be < {limit}",
        "multipleOf": lambda: f"must be a multiple of {limit}",
        "minItems": lambda: f"needs at least {limit} item(s)",
        "maxItems": lambda: f"takes at most {limit} item(s)",
        "required": lambda: "needs the keys " + ", ".join(limit),
    }
    return words[kind]() if kind in words else error.message


def from_validation_error(error: Any) -> ConfigError:
    """A jsonschema ValidationError (its best match) as one ConfigError."""
    from jsonschema.exceptions import best_match

    error = best_match([error])
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(key for key in error.instance if key not in known)
        key = unknown[0] if unknown else "?"
        where = key_path(path) if path else "the top level"
        return ConfigError(key_path([*path, key]), error.instance.get(key),
                           f"unknown key; {where} takes: " + ", ".join(known))
    return ConfigError(key_path(path), error.instance, _allowed(error))


def validate_config(config: dict, schema: str | Path) -> None:
    """`snakemake.utils.validate` of the assembled schema (YAML sections + registry patches, mixrep.schema;
    it also fills in the defaults), its error as one ConfigError."""
    from jsonschema.exceptions import ValidationError
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    from mixrep.config_schema import write_assembled_schema

    try:
        validate(config, str(write_assembled_schema(schema)))
    except WorkflowError as exc:
        cause = exc.__cause__ or exc.__context__  # validate raises it while handling the ValidationError
        if not isinstance(cause, ValidationError):
            raise
        raise from_validation_error(cause) from None


# ---------------------------------------------------------------- cells of the ablation grid
def cell_names() -> list[str]:
    """Every valid cell name (`none` and conditioning x family set, each with either positives)."""
    return [spec.name for spec in grid(positives=POSITIVES)]


def configured_cells(ablation: dict) -> list[str]:
    """The cells the config's `ablation` section asks for (names, stable order)."""
    return [spec.name for spec in grid(ablation.get("conditioning", CONDITIONINGS),
                                       ablation.get("families", ["all"]),
                                       ablation.get("positives", ["same_variant"]),
                                       ablation.get("recipe_conditioning"))]


EMBED_CONTROLS: tuple[str, ...] = ("features-only", "levels")  # embedded once (no weights), serve every seed
QUALITY_CONTROLS: tuple[str, ...] = ("is-reference", "severity")  # Stage 2 predictors without an embedding


@dataclass(frozen=True)
class GridSources:
    """What the evaluation of a config measures (docs/evaluation.md): cells, their controls, seeds."""

    runs: tuple[str, ...]
    seeds: tuple[int, ...]

    @property
    def conditioned(self) -> tuple[str, ...]:
        return tuple(r for r in self.runs if parse_run(r).conditioned)

    @property
    def unconditioned(self) -> tuple[str, ...]:
        return tuple(r for r in self.runs if not parse_run(r).conditioned)

    @property
    def audio_only(self) -> tuple[str, ...]:
        return tuple(r + AUDIO_ONLY_SUFFIX for r in self.conditioned)

    @property
    def embedded(self) -> tuple[str, ...]:
        """Every source with an embedding table (crossed set, retrieval, probe)."""
        return (*self.runs, *self.audio_only, "random-init", *EMBED_CONTROLS)

    @property
    def sources(self) -> tuple[str, ...]:
        return (*self.embedded, *QUALITY_CONTROLS)


def grid_sources(config: dict) -> GridSources:
    """The cells of `config["ablation"]` and its seeds (seed, seed+1, ...)."""
    ablation = config.get("ablation", {})
    seed = int(config.get("seed", 0))
    return GridSources(tuple(configured_cells(ablation)),
                       tuple(seed + k for k in range(int(ablation.get("repeats", 1)))))


def cell_rule(configured: list[str]) -> str:
    """The valid cell names in words: the configured ones, then the general form."""
    return (f"cells of this config: {', '.join(configured)}; any cell is `none` or <conditioning>-<families>, "
            f"optionally + `-recipe`, with conditioning {'|'.join(CONDITIONINGS)} and families "
            f"{'|'.join(FAMILY_SETS)}")


def check_cell(key: str, name: str, configured: list[str], kind: str = "config") -> None:
    """Stop on a cell name that is not conditioning-families (ablation.default_run, a target's cell)."""
    if name not in cell_names():
        raise ConfigError(key, name, "not a cell; " + cell_rule(configured), kind=kind)


def stop_unknown_cell(target: str, name: str, configured: list[str]) -> NoReturn:
    """A target under results/<stage>/<name>/ whose <name> is no cell: its one line, then exit 1."""
    try:
        check_cell(target, name, configured, kind="target")
    except ConfigError as error:
        stop(error)
    raise AssertionError(f"{name!r} is a cell: the catch-all rule should not have matched {target}")


def unknown_cell_pattern() -> str:
    """Regex of a path segment that is neither a cell nor random-init (the catch-all rule's wildcard)."""
    cells = cell_names()
    names = "|".join([*cells, *(c + AUDIO_ONLY_SUFFIX for c in cells), *NOT_CELLS]).replace(".", r"\.")
    return rf"(?!(?:{names})/)[^/]+"


# ---------------------------------------------------------------- external input files
@dataclass(frozen=True)
class ExternalFile:
    """A file outside results/ that the config points to and a rule reads."""

    key: str  # the config key that names it (the data root for a file found under it)
    path: str  # the file, as the rules open it (relative to the working directory)
    what: str  # what it is, for the message when it is missing
    under: str | None = None  # set for a file found under the directory `key` names: its path inside it


def _get(config: dict, dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def external_files(config: dict) -> dict[str, ExternalFile]:
    """Name (the rule's input name) -> the external file, for every file this config makes a rule read.

    Only files the configured methods use are listed (separation.checkpoint only for a separator that reads
    weights, ratings.csv only
    for the csv source, ...), so that a leftover path of an unused option never stops a run.
    """
    files: dict[str, ExternalFile] = {}

    def add(name: str, key: str, what: str) -> None:
        if _get(config, key):
            files[name] = ExternalFile(key, str(_get(config, key)), what)

    source, root = _get(config, "dataset.source"), _get(config, "dataset.root")
    if source == "synthetic":
        add("soundfont", "synthetic.soundfont", "soundfont")
    if source in ("folder", "multitrack"):
        add("genre_csv", "dataset.genre_csv", "genre CSV")
    if source == "fma" and root:
        files["fma_tracks"] = ExternalFile("dataset.root", str(Path(root) / FMA_TRACKS), "FMA metadata",
                                           under=FMA_TRACKS)
    if separators.reads_checkpoint(config.get("separation") or {}):
        add("checkpoint", "separation.checkpoint", "separator checkpoint")
    if _get(config, "ratings.source") == "csv":
        add("ratings_csv", "ratings.csv", "ratings CSV")
    add("mushra_results", "mushra.results_csv", "webMUSHRA results CSV")
    return files


def optional_files(config: dict, cwd: str | Path | None = None) -> dict[str, str]:
    """Name -> external file read only when it exists (then an input too, so that editing it reruns)."""
    root = _get(config, "dataset.root")
    if _get(config, "dataset.source") == "fma" and root:
        genres = Path(root) / FMA_GENRES
        if (Path(cwd or os.getcwd()) / genres).is_file():
            return {"fma_genres": str(genres)}
    return {}


def external_inputs(config: dict, *names: str) -> list[str]:
    """The files behind `names` that this config uses, as a rule's input list (often empty)."""
    files = {**{name: file.path for name, file in external_files(config).items()}, **optional_files(config)}
    return [files[name] for name in names if name in files]


# ---------------------------------------------------------------- cross-field checks
def check_config(config: dict, cwd: str | Path | None = None) -> None:
    """What a schema cannot say: a valid default cell, ratings.csv with source csv, configured files present.

    Relative paths are read from the working directory (Snakemake's --directory), as the rules read them.
    """
    here = Path(cwd) if cwd is not None else Path(os.getcwd())
    ablation = config.get("ablation", {})
    configured = configured_cells(ablation)
    check_cell("ablation.default_run", ablation.get("default_run"), configured)
    if _get(config, "ratings.source") == "csv" and not _get(config, "ratings.csv"):
        raise ConfigError("ratings.csv", None, "required with ratings.source: csv (a mix_path,song_id,score CSV)")
    source, root = _get(config, "dataset.source"), _get(config, "dataset.root")
    if source != "synthetic":
        if not root:
            raise ConfigError("dataset.root", root, f"required with dataset.source: {source} (the data folder)")
        if not (here / root).is_dir():
            raise ConfigError("dataset.root", root, f"no such directory (relative paths are read from {here})")
    check_separation_source(config)
    check_registry_settings(config)
    for file in external_files(config).values():
        if (here / file.path).is_file():
            continue
        if file.under is not None:
            raise ConfigError(file.key, _get(config, file.key), f"{file.under} not found in it ({file.what})")
        raise ConfigError(file.key, file.path, f"no such file ({file.what}; relative paths are read from {here})")


def check_registry_settings(config: dict) -> None:
    """Build the settings whose constraints a JSON schema cannot state (a range's low <= high, positive bounds of a
    log-uniform draw), so such a mistake stops here, in one line, instead of inside the first job."""
    from mixrep.degrade.config import DegradeSettings

    try:
        DegradeSettings.from_config(config.get("degrade"))
    except ValueError as error:
        text = str(error)
        key, _, problem = text.partition(": ")
        key = key if key.startswith("degrade") and " " not in key else "degrade"
        try:
            value = _get(config, key)
        except (KeyError, TypeError):
            value = None
        raise ConfigError(key, value, problem or text) from None


SOURCES_WITH_TRUE_STEMS: tuple[str, ...] = ("synthetic", "multitrack")


def check_separation_source(config: dict) -> None:
    """A separator that reads true stems (the oracle) or is trained here needs them: refuse it, at plan time,
    where the dataset has none (mixrep.separation.separators says which separator does what).

    Without this check a folder or FMA run fails only after the manifest, deep inside `separate` (oracle) or
    `train-separator` (no train-split track with stems).
    """
    source = _get(config, "dataset.source")
    if source in SOURCES_WITH_TRUE_STEMS:
        return
    section = config.get("separation") or {}
    method = section.get("method")
    if SEPARATORS.get(method).true_stems:
        readers = [name for name in SEPARATORS if SEPARATORS.get(name).checkpoint]
        raise ConfigError("separation.method", method,
                          f"the {method} separator needs true stems, which dataset.source: {source} does not have;"
                          f" use {' or '.join(readers)} with separation.checkpoint")
    if separators.trains_here(section):
        raise ConfigError("separation.checkpoint", None,
                          f"required with dataset.source: {source} (no true stems to train a separator on;"
                          " give a published SCNet checkpoint)")


def yaml_syntax_error(path: str | Path) -> ConfigError | None:
    """A YAML syntax error of a config file as one ConfigError naming file, line and column (None if it parses).

    Snakemake reports a broken config file as "Config file is not valid JSON or YAML" without file or line.
    """
    import yaml

    try:
        yaml.safe_load(Path(path).read_text())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        return ConfigError(where, None, f"YAML syntax: {exc.problem or exc.context}")
    except yaml.YAMLError as exc:
        return ConfigError(str(path), None, f"YAML syntax: {' '.join(str(exc).split())}")
    return None


def stop_on_yaml_syntax(path: str | Path) -> None:
    """Called by the Snakefile before its `configfile:` directive: a broken config.yaml stops in one line."""
    error = yaml_syntax_error(path)
    if error is not None:
        print(f"config error: {error.key}: {error.allowed}", file=sys.stderr)
        raise SystemExit(1)


def check_or_stop(config: dict, schema: str | Path) -> None:
    """Validate (filling in defaults) and check `config`; on a mistake print its one line and exit 1.

    A plain exit, not an exception, because Snakemake prints any exception raised in a Snakefile with its
    type, file, line and traceback around the message, and the user needs only the message.
    """
    try:
        validate_config(config, schema)
        check_config(config)
    except ConfigError as error:
        stop(error)


def stop(error: ConfigError) -> NoReturn:
    """Print the error's line on stderr and end the Snakemake process (status 1)."""
    print(error.line(), file=sys.stderr)
    raise SystemExit(1)
