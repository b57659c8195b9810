"""The SQL that maps one chunk of an extract onto an event table, and the checks of its values.

For a chunk (a pyarrow table registered in DuckDB as ``chunk``, with a row-number column ``__row``)
and a :class:`~cluster_eval.extracts.mapping.Part`, :func:`chunk_plan` returns the SELECT list that
produces the engine's columns and the checks: ``(column label, rule, SQL predicate of a bad row, SQL
of the offending value)``. The SQL depends on the chunk's column types (a SAS date arrives as a date,
a SAS number as a double, a CSV field as text), so a plan is made per type signature.
"""
from __future__ import annotations

import pyarrow as pa

from ..indicators.tables import DATE_COLUMNS, EVENT_TABLES, NUMBER_COLUMNS, REQUIRED_VALUES
from .expressions import columns_of, parse_expression, to_sql
from .mapping import SAS_DATES, SAS_EPOCH, Part

ROW = "__row"


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


def lit(value: str) -> str:
    """A quoted SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def _kind(t: pa.DataType) -> str:
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return "int"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return "date"
    if pa.types.is_null(t):
        return "null"
    return "text"


def text_sql(c: str, kind: str) -> str:
    """A column as trimmed text, empty = missing; whole numbers without '.0' (SAS numbers are doubles)."""
    if kind == "text":
        return f"NULLIF(TRIM(CAST({c} AS VARCHAR)), '')"
    if kind == "float":
        return (f"(CASE WHEN isfinite({c}) AND {c} = TRUNC({c}) AND abs({c}) < 1e18 "
                f"THEN CAST(CAST({c} AS BIGINT) AS VARCHAR) ELSE CAST({c} AS VARCHAR) END)")
    if kind == "null":
        return "CAST(NULL AS VARCHAR)"
    return f"CAST({c} AS VARCHAR)"


def number_sql(c: str, kind: str, decimal: str) -> str:
    """A column as DOUBLE; text with the declared decimal mark (the other mark makes the value invalid)."""
    if kind in ("int", "float"):
        return f"CAST({c} AS DOUBLE)"
    if kind == "null":
        return "CAST(NULL AS DOUBLE)"
    t = f"TRIM(CAST({c} AS VARCHAR))"
    if decimal == ",":
        t = f"REPLACE(REPLACE({t}, '.', 'x'), ',', '.')"
    return f"TRY_CAST({t} AS DOUBLE)"


def date_sql(c: str, kind: str, fmt: str | None) -> str | None:
    """A column as DATE under a format ('sas': days since 1960-01-01); None if it cannot be (a number
    without a declared format)."""
    epoch = f"DATE '{SAS_EPOCH}'"
    if kind == "date":
        return f"CAST({c} AS DATE)"
    if kind == "null":
        return "CAST(NULL AS DATE)"
    if kind in ("int", "float"):
        if fmt == SAS_DATES:
            return (f"(CASE WHEN isfinite(CAST({c} AS DOUBLE)) AND {c} = TRUNC({c}) AND abs({c}) < 2000000 "
                    f"THEN {epoch} + CAST({c} AS INTEGER) END)")
        if fmt:
            return (f"(CASE WHEN isfinite(CAST({c} AS DOUBLE)) AND {c} = TRUNC({c}) AND abs({c}) < 1e15 THEN "
                    f"CAST(TRY_STRPTIME(CAST(CAST({c} AS BIGINT) AS VARCHAR), {lit(fmt)}) AS DATE) END)")
        return None
    t = f"TRIM(CAST({c} AS VARCHAR))"
    if fmt == SAS_DATES:
        return (f"(CASE WHEN abs(TRY_CAST({t} AS DOUBLE)) < 2000000 AND TRY_CAST({t} AS DOUBLE) = "
                f"TRUNC(TRY_CAST({t} AS DOUBLE)) THEN {epoch} + CAST(TRY_CAST({t} AS DOUBLE) AS INTEGER) END)")
    return f"CAST(TRY_STRPTIME({t}, {lit(fmt or '%Y-%m-%d')}) AS DATE)"


def describe_date(fmt: str | None) -> str:
    if fmt == SAS_DATES:
        return "not a SAS date number (whole days since 1960-01-01)"
    if fmt is None:
        return "not a date (YYYY-MM-DD; declare another format under 'dates')"
    example = fmt.replace("%d", "dd").replace("%m", "mm").replace("%Y", "yyyy").replace("%y", "yy")
    return f"not a date in the format {example} ({fmt})"


def label(src: str, dst: str) -> str:
    return src if src == dst else f"'{src}' (contract column '{dst}')"


def output_schema(table: str, columns: list[str], id_type: str) -> pa.Schema:
    fields = []
    for c in columns:
        if c == "patient_id":
            fields.append(pa.field(c, pa.int64() if id_type == "integer" else pa.string()))
        elif c in DATE_COLUMNS:
            fields.append(pa.field(c, pa.date32()))
        elif c in NUMBER_COLUMNS:
            fields.append(pa.field(c, pa.float64()))
        else:
            fields.append(pa.field(c, pa.string()))
    return pa.schema(fields)


def table_columns(table: str, parts) -> list[str]:
    """The engine columns a table's output holds: every column some part maps, in the contract's order."""
    given = set()
    for p in parts:
        given |= set(p.columns) | set(p.derived) | set(p.constant)
    required, optional = EVENT_TABLES[table]
    return [c for c in required + optional if c in given]


def chunk_plan(part: Part, types: dict[str, pa.DataType], out_columns: list[str], id_type: str, decimal: str):
    """``(SELECT list, checks)`` for one chunk signature (see the module docstring)."""
    kinds = {c: _kind(t) for c, t in types.items()}
    select, checks = [], []
    for dst in out_columns:
        if dst in part.columns:
            src = part.columns[dst]
            c, kind = q(src), kinds[src]
            present = f"{text_sql(c, kind)} IS NOT NULL" if kind != "date" else f"{c} IS NOT NULL"
            shown = text_sql(c, kind)
            where = label(src, dst)
            if dst in REQUIRED_VALUES:
                checks.append((where, "value is missing", f"NOT ({present})", shown))
            if dst in DATE_COLUMNS:
                fmt = part.dates.get(dst)
                expr = date_sql(c, kind, fmt)
                if expr is None:
                    checks.append((where, "is a number, not a date: declare its format under 'dates' (sas for SAS "
                                   "date numbers, or e.g. '%Y%m%d')", present, shown))
                    expr = "CAST(NULL AS DATE)"
                else:
                    checks.append((where, describe_date(fmt), f"{present} AND {expr} IS NULL", shown))
            elif dst in NUMBER_COLUMNS:
                expr = number_sql(c, kind, decimal)
                checks.append((where, f"not a number (decimal mark '{decimal}')", f"{present} AND {expr} IS NULL",
                               shown))
            else:
                expr = text_sql(c, kind)
                vmap = part.values.get(dst)
                if vmap:
                    keys = ", ".join(lit(k) for k in vmap)
                    shown_map = ", ".join(f"{k} → {v}" for k, v in vmap.items())
                    checks.append((where, f"value not in the params value map ({shown_map})",
                                   f"{expr} IS NOT NULL AND {expr} NOT IN ({keys})", shown))
                    expr = "CASE " + " ".join(f"WHEN {expr} = {lit(k)} THEN {lit(v)}" for k, v in vmap.items()) + " END"
                if dst == "patient_id" and id_type == "integer":
                    checks.append((where, "not a whole number (events.patient_id is integer)",
                                   f"{expr} IS NOT NULL AND TRY_CAST({expr} AS BIGINT) IS NULL", shown))
                    expr = f"TRY_CAST({expr} AS BIGINT)"
        elif dst in part.derived:
            tree = parse_expression(part.derived[dst], f"params '{part.where}.derived.{dst}'")
            for src in columns_of(tree):
                c, kind = q(src), kinds[src]
                num = number_sql(c, kind, decimal)
                checks.append((f"'{src}' (in derived column '{dst}')", f"not a number (decimal mark '{decimal}')",
                               f"{text_sql(c, kind)} IS NOT NULL AND {num} IS NULL", text_sql(c, kind)))
            expr = to_sql(tree, lambda s: number_sql(q(s), kinds[s], decimal))
            expr = f"(CASE WHEN isfinite({expr}) THEN {expr} END)"
        elif dst in part.constant:
            v = part.constant[dst]
            if dst in DATE_COLUMNS:
                expr = f"DATE {lit(v)}"
            elif dst in NUMBER_COLUMNS:
                expr = f"CAST({float(v)!r} AS DOUBLE)"
            elif dst == "patient_id" and id_type == "integer":
                expr = f"TRY_CAST({lit(v)} AS BIGINT)"
            else:
                expr = lit(v)
        else:
            expr = "NULL"
        select.append(f"{expr} AS {q(dst)}")
    return ", ".join(select), checks
