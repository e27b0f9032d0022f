"""One validated settings object for the whole service.

Precedence, lowest to highest: built-in defaults < `config.yaml` < environment
variables `INKDEX_<SECTION>__<KEY>` < command-line flags. Relative paths in the
config file are resolved against the file's own folder; relative paths given in
the environment or on the command line against the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

CONFIG_ENV = "INKDEX_CONFIG"

# Dotted keys whose values are filesystem paths (resolved relative to their origin).
_PATH_KEYS = (
    ("data_dir",),
    ("model", "bundle"),
    ("model", "models_dir"),
    ("model", "lexicon"),
    ("synth", "font_cache"),
    ("synth", "font_dirs"),
)


class SettingsError(ValueError):
    """The configuration is invalid; the message names the offending key."""


class _Section(BaseModel):
    model_config = {"extra": "forbid"}


class ModelSettings(_Section):
    bundle: Path = Field(Path("models/inkdex-hw-0.12"), description="active model bundle folder")
    models_dir: Path = Field(Path("models"), description="folder that holds all bundles")
    # None: the active bundle's own default (``decoder`` in its model.yaml).
    decoder: Literal["greedy", "beam", "lexicon"] | None = Field(
        None, description="greedy, beam or lexicon; unset = the bundle's default"
    )
    beam_width: int | None = Field(
        None, ge=1, le=256, description="beam width; unset = the bundle's default"
    )
    alternatives: int | None = Field(
        None, ge=0, le=20, description="alternative readings kept per word; unset = the bundle's"
    )
    lexicon: Path | None = None
    runtime: Literal["auto", "onnx", "tensorflow"] = Field(
        "auto",
        description="what runs the network: the bundle's ONNX export (`inkdex export`) "
        "with ONNX Runtime, which starts without TensorFlow (onnx), Keras on TensorFlow "
        "(tensorflow), or the export when the bundle has a current one (auto)",
    )
    batch_size: int = Field(32, ge=1, le=1024)
    # None: one fewer than the machine's cores, at most 3.
    decode_processes: int | None = Field(
        None,
        ge=0,
        le=64,
        description="helper processes that read lines and segment pages beside the network's",
    )
    spell_correction: bool = Field(
        False, description="replace unlisted words by the nearest word of `lexicon`"
    )
    capital_prior: tuple[float, float] = Field(
        (0.0, 0.0),
        description="lexicon decoder: log-probability of a capital at the start of a word "
        "and inside one (<= 0; 0 = no preference)",
    )

    @field_validator("capital_prior")
    @classmethod
    def _log_probabilities(cls, v: tuple[float, float]) -> tuple[float, float]:
        if any(x > 0 for x in v):
            raise ValueError("capital_prior holds log-probabilities, each <= 0")
        return v

    # None: the bundle's own (``decoder.lm_weight`` etc. in its model.yaml).
    lm_weight: float | None = Field(
        None,
        ge=0,
        le=10,
        description="weight of the bundle's character language model in the beam "
        "decoders; 0 = off; unset = the bundle's default",
    )
    lm_bonus: float | None = Field(
        None, ge=-10, le=10, description="language model bonus per character; unset = bundle's"
    )
    line_pass: Literal["greedy", "decoder"] | None = Field(
        None,
        description="first pass over a line: its best path (greedy) or the decoder's "
        "reading; unset = the bundle's default",
    )
    test_time_shifts: list[int] = Field(
        default_factory=list,
        description="read each line again moved down (+) or up (-) by these many input rows "
        "and average the readings; each shift costs one more network pass",
    )

    @field_validator("test_time_shifts")
    @classmethod
    def _shifts(cls, v: list[int]) -> list[int]:
        if v:
            from recognizer.shifts import check_shifts

            check_shifts(v)  # RecognizerError is a ValueError: reported under this key
        return v


class ApiSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    token: str = Field("", description="bearer token for write/admin routes; empty = no auth")
    cors_origins: list[str] = Field(default_factory=list)
    max_query_length: int = Field(256, ge=1, le=10_000)
    image_max_side: int = Field(2400, ge=64, le=20_000, description="longest side of served pages")
    image_jpeg_quality: int = Field(85, ge=30, le=100)
    image_cache_entries: int = Field(256, ge=0, le=100_000)


class UploadSettings(_Section):
    max_bytes: int = Field(25_000_000, ge=1)
    max_pixels: int = Field(80_000_000, ge=1)
    max_filename_length: int = Field(200, ge=8, le=1000)


class InboxSettings(_Section):
    enabled: bool = True
    polling: bool = False
    poll_interval_s: float = Field(2.0, gt=0)
    stable_s: float = Field(1.0, ge=0)
    rescan_s: float = Field(60.0, gt=0)


class IndexSettings(_Section):
    default_limit: int = Field(10, ge=1, le=1000)
    max_limit: int = Field(100, ge=1, le=10_000)
    fuzzy_max_distance: int = Field(2, ge=1, le=2)
    alternative_min_prob: float = Field(0.05, ge=0.0, le=1.0)
    max_expansion: int = Field(64, ge=1, le=10_000)
    rebuild_memory_mb: int = Field(1024, ge=32, le=65_536)
    rebuild_processes: int = Field(2, ge=0, le=64)


class WorkerSettings(_Section):
    enabled: bool = True
    batch_pages: int = Field(8, ge=1, le=256)
    max_attempts: int = Field(3, ge=1, le=100)
    retry_backoff_s: float = Field(2.0, ge=0)


class SynthSettings(_Section):
    font_cache: Path = Field(Path("~/.cache/inkdex/fonts"))
    font_dirs: list[Path] = Field(default_factory=list)
    heldout_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="font families held out")
    split_seed: int = Field(0, description="seed of the train/held-out font split")
    augment: float = Field(1.0, ge=0.0, le=1.0, description="distortion strength, 0 = clean")
    max_chars: int = Field(60, ge=8, le=500, description="longest synthetic line, in characters")


class Settings(BaseSettings):
    """Every tunable of inkdex. See `config.yaml` for what each one means."""

    model_config = SettingsConfigDict(
        env_prefix="INKDEX_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Path("data")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    model: ModelSettings = Field(default_factory=ModelSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    upload: UploadSettings = Field(default_factory=UploadSettings)
    inbox: InboxSettings = Field(default_factory=InboxSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    synth: SynthSettings = Field(default_factory=SynthSettings)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file_values = _FILE_VALUES.get(settings_cls, {})
        return (init_settings, env_settings, InitSettingsSource(settings_cls, file_values))


_FILE_VALUES: dict[type, dict[str, Any]] = {}


def _resolve_paths(values: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make the known path keys in a nested dict absolute against `base`."""

    def fix(v: Any) -> Any:
        if v is None or v == "":
            return v
        p = Path(os.path.expanduser(str(v)))
        return str(p if p.is_absolute() else (base / p).resolve())

    for keys in _PATH_KEYS:
        node = values
        for k in keys[:-1]:
            node = node.get(k) if isinstance(node, dict) else None
            if node is None:
                break
        if not isinstance(node, dict) or keys[-1] not in node:
            continue
        v = node[keys[-1]]
        node[keys[-1]] = [fix(x) for x in v] if isinstance(v, list) else fix(v)
    return values


def default_config_path() -> Path | None:
    """`$INKDEX_CONFIG`, else `./config.yaml` when it exists, else none (defaults only)."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    local = Path("config.yaml")
    return local if local.is_file() else None


def _format_error(err: ValidationError, origin: str) -> str:
    parts = []
    for e in err.errors():
        key = ".".join(str(x) for x in e["loc"])
        parts.append(f"{key}: {e['msg']} (got {e.get('input')!r})")
    return f"invalid setting in {origin}: " + "; ".join(parts)


def load_settings(
    config: Path | str | None = None, overrides: dict[str, Any] | None = None
) -> Settings:
    """Load settings from `config` (or the default file), env vars and `overrides`.

    `overrides` is a nested dict, e.g. ``{"data_dir": "/tmp/x", "api": {"port": 9000}}``;
    it wins over everything. Raises `SettingsError` naming the bad key.
    """
    path = Path(config) if config is not None else default_config_path()
    file_values: dict[str, Any] = {}
    origin = "defaults"
    if path is not None:
        if not path.is_file():
            raise SettingsError(f"config file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise SettingsError(f"config file {path} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise SettingsError(f"config file {path} must hold a mapping of settings")
        file_values = _resolve_paths(loaded, path.resolve().parent)
        origin = str(path)

    overrides = _resolve_paths(dict(overrides or {}), Path.cwd())
    # Each call gets its own subclass so concurrent loads with other files do not mix.
    cls = type("LoadedSettings", (Settings,), {})
    _FILE_VALUES[cls] = file_values
    try:
        settings = cls(**overrides)
    except ValidationError as exc:
        raise SettingsError(_format_error(exc, f"{origin} / environment / flags")) from exc
    finally:
        _FILE_VALUES.pop(cls, None)
    return _absolutise(settings)


def _absolutise(s: Settings) -> Settings:
    """Resolve paths that came from defaults or env against the working directory."""
    cwd = Path.cwd()

    def fix(p: Path) -> Path:
        p = p.expanduser()
        return p if p.is_absolute() else (cwd / p).resolve()

    s.data_dir = fix(s.data_dir)
    s.model.bundle = fix(s.model.bundle)
    s.model.models_dir = fix(s.model.models_dir)
    if s.model.lexicon is not None:
        s.model.lexicon = fix(s.model.lexicon)
    s.synth.font_cache = fix(s.synth.font_cache)
    s.synth.font_dirs = [fix(p) for p in s.synth.font_dirs]
    return s
