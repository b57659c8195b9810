"""Where each contract table comes from: a plain data folder, or a params file's ``data`` section.

A params ``data`` section maps a user's own extract onto the contract without preprocessing::

    data:
      folder: "{shared}/data/real"        # base for relative file names; {shared} = CLUSTER_EVAL_SHARED
      tables:
        measures:
          file: manchester.csv
          columns: {practice_id: practice_id, period: date, numerator: antibiotic_items, denominator: star_pu}
          constant: {indicator_id: abx_items_per_starpu}
        practices:
          file: manchester.csv             # the same file: one row per practice after `distinct`
          columns: {practice_id: practice_id, cluster_id: pcn_code, region: sub_icb_code}
          fill: {region: "no sub-ICB"}      # value for empty cells
          distinct: true
        activities:
          rows: [{cluster_id: U12345, topic: antibiotics, start: 2017-04-01}]
      indicators:
        abx_items_per_starpu: {title: ..., topic: antibiotics, kind: rate, multiplier: 1000, better: lower}

Tables not named under ``tables`` are read from ``<folder>/<table>.csv`` or ``.parquet``.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from ..indicators.catalogue import load_catalogue
from ..resources import project_root
from ..validation import hint
from .contract import SPECS
from .params import check_keys, read_params_file
from .rules import LINE, check_file_bytes, csv_lines, problem, table_rows

TABLE_KEYS = {"file", "columns", "constant", "fill", "distinct", "dropna", "rows", "sheet"}
DATA_KEYS = {"folder", "tables", "indicators"}
INDICATOR_KEYS = {"title", "title_da", "topic", "kind", "multiplier", "better", "target", "standardised", "unit"}
#: An indicator's better direction; "none" (also when a params indicator does not say) gives no verdict words.
BETTER = ("lower", "higher", "none")
TABLE_NAMES = ("practices", "clusters", "activities", "measures", "population", "measures_banded", "truth")


def shared_root() -> Path:
    """The shared/ folder: ``CLUSTER_EVAL_SHARED`` or ``../shared`` beside the project root."""
    env = os.environ.get("CLUSTER_EVAL_SHARED")
    if env:
        p = Path(env)
        return p if p.is_absolute() else (Path.cwd() / p).resolve()
    return (project_root().parent / "shared").resolve()


def expand_path(text: str, base: Path) -> Path:
    """Expand ``{shared}``, ``{root}``, ``~`` and environment variables; relative paths are taken from ``base``."""
    text = str(text).replace("{shared}", str(shared_root())).replace("{root}", str(project_root()))
    p = Path(os.path.expandvars(os.path.expanduser(text)))
    return p if p.is_absolute() else (base / p)


def read_raw(path: Path, label: str):
    """Read a CSV (all values as text, BOM handled) or Parquet file; add a row-location column."""
    problems = check_file_bytes(path, label)
    if problems:
        return None, problems
    if path.suffix.lower() == ".parquet":
        df = pd.read_parquet(path)
        df[LINE] = table_rows(len(df))
    else:
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
        except pd.errors.ParserError as exc:
            return None, [problem(label, None, f"file is not valid CSV ({exc})")]
        df.columns = [str(c).strip() for c in df.columns]
        df[LINE] = csv_lines(len(df))
    return df, []


def find_table_file(folder: Path, name: str) -> Path | None:
    for ext in (".parquet", ".csv"):
        p = folder / f"{name}{ext}"
        if p.exists():
            return p
    return None


class Source:
    """Tables of one data source, read under the contract's column names."""

    def __init__(self, folder: Path, tables: dict | None = None, indicators: dict | None = None):
        self.folder = folder
        self.specs = tables or {}
        self._indicators = indicators or {}

    # -- metadata -------------------------------------------------------------------------------
    def extra_indicators(self) -> dict:
        return dict(self._indicators)

    def indicator_kinds(self) -> dict:
        kinds = {k: v.kind for k, v in load_catalogue().items()}
        kinds.update({k: v.get("kind") for k, v in self._indicators.items()})
        return kinds

    def topics(self) -> set:
        topics = {v.topic for v in load_catalogue().values()}
        topics |= {v["topic"] for v in self._indicators.values() if v.get("topic")}
        return topics

    def input_files(self) -> list[Path]:
        """Every file this source reads (for the run manifest's hashes)."""
        files = []
        for name in TABLE_NAMES:
            spec = self.specs.get(name)
            if spec is None:
                p = find_table_file(self.folder, name)
            elif "file" in spec:
                p = expand_path(spec["file"], self.folder)
            else:
                p = None
            if p is not None and p.exists() and p not in files:
                files.append(p)
        return files

    # -- reading --------------------------------------------------------------------------------
    def read(self, name: str):
        """Return ``(raw frame or None, file label, contract->source column map, problems)``."""
        spec = self.specs.get(name)
        if spec is None:
            path = find_table_file(self.folder, name)
            label = str(path) if path else str(self.folder / f"{name}.csv")
            if path is None:
                required = name in SPECS and SPECS[name].required_table
                probs = [problem(label, None, f"required table '{name}' is missing "
                                  f"(looked for {name}.csv or {name}.parquet in {self.folder})")] if required else []
                return None, label, {}, probs
            df, probs = read_raw(path, label)
            return df, label, {}, probs
        if "rows" in spec:
            label = f"params data.tables.{name}.rows"
            df = pd.DataFrame(spec["rows"]).astype("string")
            df[LINE] = [f"rows[{i}]" for i in range(len(df))]
            return df, label, {}, []
        path = expand_path(spec["file"], self.folder)
        label = str(path)
        df, probs = read_raw(path, label)
        if df is None:
            return None, label, {}, probs
        columns = spec.get("columns", {})
        missing = [src for src in columns.values() if src not in df.columns]
        if missing:
            return None, label, {}, [problem(label, f"'{src}' (mapped to contract column "
                                              f"'{[k for k, v in columns.items() if v == src][0]}')",
                                              "column named in the params mapping is not in the file")
                                     for src in missing]
        out = pd.DataFrame({dst: df[src] for dst, src in columns.items()})
        for dst, value in (spec.get("constant") or {}).items():
            out[dst] = str(value)
        for dst, value in (spec.get("fill") or {}).items():
            if dst in out:
                out[dst] = out[dst].fillna(str(value))
        out[LINE] = df[LINE]
        if spec.get("dropna"):
            out = out.dropna(subset=list(spec["dropna"]))
        if spec.get("distinct"):
            out = out.drop_duplicates(subset=[c for c in out.columns if c != LINE])
        return out.reset_index(drop=True), label, dict(columns), []


def resolve_source(path_or_params) -> Source:
    """A :class:`Source` from a data folder, a params YAML path, a params dict or a ``data`` dict."""
    base = Path.cwd()
    if isinstance(path_or_params, str | os.PathLike):
        p = Path(path_or_params)
        if p.is_dir():
            return Source(p)
        if p.suffix.lower() in (".yaml", ".yml"):
            path_or_params, base = read_params_file(p)
        else:
            raise ConfigError(f"data folder not found: {p}" if not p.exists()
                              else f"not a data folder or params file: {p}")
    if not isinstance(path_or_params, dict):
        raise ConfigError(f"expected a data folder, params file or dict; got {path_or_params!r}")
    data = path_or_params.get("data", path_or_params) if "data" in path_or_params else path_or_params
    base = Path(path_or_params.get("_base", base))
    return source_from_data_section(data, base)


def source_from_data_section(data, base: Path) -> Source:
    """Validate a params ``data`` section (strict keys) and build its :class:`Source`."""
    if isinstance(data, str | os.PathLike):
        folder = expand_path(str(data), base)
        if not folder.is_dir():
            raise ConfigError(f"data folder not found: {folder}")
        return Source(folder)
    check_keys(data, DATA_KEYS, "params 'data'")
    folder = expand_path(data.get("folder", "."), base)
    tables = data.get("tables") or {}
    check_keys(tables, set(TABLE_NAMES), "params 'data.tables'")
    for name, spec in tables.items():
        check_keys(spec, TABLE_KEYS, f"params 'data.tables.{name}'")
        if "file" not in spec and "rows" not in spec:
            raise ConfigError(f"params 'data.tables.{name}' needs 'file' (a file name) or 'rows' (inline rows)")
        for key in ("columns", "constant", "fill"):
            if key in spec and not isinstance(spec[key], dict):
                raise ConfigError(f"params 'data.tables.{name}.{key}' must map contract columns to values")
    indicators = data.get("indicators") or {}
    for ind, meta in indicators.items():
        check_keys(meta, INDICATOR_KEYS, f"params 'data.indicators.{ind}'", required=("kind", "topic"))
        if meta["kind"] not in ("proportion", "rate"):
            raise ConfigError(f"params 'data.indicators.{ind}.kind' must be 'proportion' or 'rate'; "
                              f"got {meta['kind']!r}")
        if "better" in meta and meta["better"] not in BETTER:
            raise ConfigError(f"params 'data.indicators.{ind}.better' must be 'lower', 'higher' or 'none' "
                              f"(none: no verdict words); got {meta['better']!r}"
                              f"{hint(str(meta['better']), BETTER)}")
    if not folder.is_dir():
        raise ConfigError(f"data folder not found: {folder}")
    return Source(folder, tables, indicators)
