"""Reading params files: the YAML file itself and the strict-keys rule every section follows.

Shared by the data section's reader (:mod:`cluster_eval.data.mapping`) and the run's params
(:mod:`cluster_eval.report.config`).
"""
from __future__ import annotations

from pathlib import Path

import yaml

from ..errors import ConfigError
from ..validation import did_you_mean


def read_params_file(path) -> tuple[dict, Path]:
    """Read a params YAML file: ``(mapping, the folder relative paths are taken from)``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"params file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"params file {path} is not valid YAML: {exc}") from exc
    return raw, path.resolve().parent


def check_keys(mapping, allowed, where: str, required=()) -> None:
    """Refuse unknown (misspelt) and missing keys in one section of a params file.

    The message names the section, the key, and the closest allowed key.
    """
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where} must be a mapping of keys to values; got {type(mapping).__name__} {mapping!r}")
    for key in mapping:
        if key not in allowed:
            close = did_you_mean(key, allowed)
            hint = f"; did you mean {close!r}?" if close else f"; allowed keys: {', '.join(sorted(allowed))}"
            raise ConfigError(f"unknown key {key!r} in {where}{hint}")
    for key in required:
        if key not in mapping:
            raise ConfigError(f"missing key {key!r} in {where}")
