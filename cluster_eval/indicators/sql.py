"""Compile catalogue definitions to SQL over interval tables of period indices.

Periods are months, numbered ``m = 12·year + month − 1``. Every criterion becomes a table of
*intervals* ``(patient_id, s, e)``: the periods (inclusive, clipped to ``[lo, hi]``) at whose last day
the patient meets the criterion; intervals of one patient never overlap. A population becomes
``(patient_id, practice_id, s, e)``: the periods at whose end the patient is listed with the practice,
alive and inside the age/sex filter. Criteria combine by interval algebra (intersection, union with
merging, complement), so nothing is expanded to one row per patient and period: a patient listed ten
years with one practice is one row. Counts per practice and period come from difference arrays (+1
at ``s``, −1 at ``e + 1``) summed cumulatively over the practice × period grid.

The SQL uses only standard constructs (CTEs, window functions, ``GREATEST``/``LEAST``,
``EXTRACT``, ``LIKE``, ``INTERVAL '1' DAY * n``, ``VALUES``) over the relations ``ce_patients``,
``ce_listings``, ``ce_prescriptions``, ``ce_lab_tests``, ``ce_diagnoses``, ``ce_periods`` and
``ce_offsets`` that the engine defines. It is written once, in DuckDB's dialect; other engines run it
through sqlglot's transpiler (:mod:`.spark`), so nothing here may be a construct sqlglot cannot
translate (tests/indicators/test_sql.py checks that every statement parses to known functions only).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .catalogue import (
    MAX_COVERAGE_DAYS,
    AllOf,
    AnyOf,
    ConcurrentDrugs,
    EventCriterion,
    Indicator,
    Not,
    Population,
)

CODE_COLUMN = {"prescriptions": "atc", "lab_tests": "npu_code", "diagnoses": "code"}


def month_index(expr: str) -> str:
    """SQL for the month index of a date expression."""
    return f"(EXTRACT(YEAR FROM {expr}) * 12 + EXTRACT(MONTH FROM {expr}) - 1)"


def month_after_days(date: str, days: str) -> str:
    """Month index of ``date + days`` (the first day not covered); standard interval arithmetic, cast
    back to a date (``date + integer`` is not portable)."""
    return month_index(f"CAST({date} + INTERVAL '1' DAY * CAST({days} AS INTEGER) AS DATE)")


def first_day(m: int) -> str:
    """SQL date literal of the first day of month index ``m``."""
    return f"DATE '{m // 12:04d}-{m % 12 + 1:02d}-01'"


def integers(column: str, lo: int, hi: int) -> str:
    """SELECT of the integers ``lo..hi`` as one BIGINT column (a ``VALUES`` list: portable, unlike the
    engines' range table functions)."""
    values = ", ".join(f"({i})" for i in range(lo, hi + 1))
    return f"SELECT CAST({column} AS BIGINT) AS {column} FROM (VALUES {values}) AS v({column})"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def code_filter(crit) -> str:
    """SQL predicate selecting the events whose code starts with one of the criterion's codes."""
    if isinstance(crit, ConcurrentDrugs):
        codes, source = crit.codes, "prescriptions"
    else:
        codes, source = crit.codes, crit.source
    if not codes:
        return "TRUE"
    col = CODE_COLUMN[source]
    if source == "diagnoses":
        parts = [f"(system = {_quote(sys)} AND {col} LIKE {_quote(code + '%')})" for sys, code in codes]
    else:
        parts = [f"{col} LIKE {_quote(code + '%')}" for code in codes]
    return "(" + " OR ".join(parts) + ")"


def merge_intervals(select: str, extra: str = "") -> str:
    """Merge overlapping or adjacent intervals of each patient (gaps and islands).

    ``extra`` is an additional partition column list (e.g. ``", substance"``). Rows are made distinct
    first so that ``(s, e)`` orders each partition totally (both window functions then see one order).
    """
    part = f"patient_id{extra}"
    return f"""
WITH u AS (SELECT DISTINCT {part}, s, e FROM ({select}) x),
o AS (SELECT {part}, s, e,
        MAX(e) OVER (PARTITION BY {part} ORDER BY s, e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
          AS prev_e
      FROM u WHERE s <= e),
g AS (SELECT {part}, s, e,
        SUM(CASE WHEN prev_e IS NULL OR s > prev_e + 1 THEN 1 ELSE 0 END)
          OVER (PARTITION BY {part} ORDER BY s, e ROWS UNBOUNDED PRECEDING) AS grp
      FROM o)
SELECT {part}, MIN(s) AS s, MAX(e) AS e FROM g GROUP BY {part}, grp"""


@dataclass
class Plan:
    """The compiled statements: ``steps`` are ``(table, sql, label)`` run in order as temp tables."""

    lo: int
    hi: int
    steps: list = field(default_factory=list)
    person_counts: dict = field(default_factory=dict)   # column -> delta table
    event_counts: dict = field(default_factory=dict)    # column -> level table
    columns: dict = field(default_factory=dict)         # indicator id -> (numerator col, denominator col)
    listed_column: str = ""


class Compiler:
    """Compile indicators to a :class:`Plan`; equal definitions share one table (memoised by value)."""

    def __init__(self, lo: int, hi: int):
        if lo > hi:
            raise ValueError(f"empty period range: {lo} > {hi}")
        self.plan = Plan(lo, hi)
        self._memo: dict = {}
        self._n = 0

    # -- bookkeeping ---------------------------------------------------------------------------
    def _table(self, key, sql_fn, label: str) -> str:
        if key in self._memo:
            return self._memo[key]
        sql = sql_fn()
        self._n += 1
        name = f"ce_t{self._n}"
        self.plan.steps.append((name, sql, label))
        self._memo[key] = name
        return name

    # -- criteria ------------------------------------------------------------------------------
    def event_rows(self, crit: EventCriterion) -> str:
        """SELECT of the criterion's matching events (patient_id, date, m[, value]) in range."""
        lo_m = self.plan.lo - crit.offset - crit.months + 1
        hi_m = self.plan.hi - crit.offset
        where = [code_filter(crit), f"date >= {first_day(lo_m)}", f"date < {first_day(hi_m + 1)}"]
        if crit.comparison is not None and not crit.latest:
            where.append(f"value {crit.comparison} {crit.threshold!r}")
        cols = "patient_id, date, m" + (", value" if crit.source == "lab_tests" else "")
        return f"SELECT {cols} FROM ce_{crit.source} WHERE " + " AND ".join(where)

    def criterion(self, crit) -> str:
        """Table (patient_id, s, e) of the periods at whose end the criterion holds."""
        lo, hi = self.plan.lo, self.plan.hi
        if isinstance(crit, EventCriterion) and crit.latest:
            def sql():
                return f"""
WITH t AS (SELECT patient_id, date, m, MAX(value) AS value
           FROM ({self.event_rows(crit)}) x WHERE value IS NOT NULL GROUP BY patient_id, date, m),
n AS (SELECT patient_id, m, value, LEAD(m) OVER (PARTITION BY patient_id ORDER BY date) AS next_m FROM t)
SELECT patient_id, s, e FROM (
  SELECT patient_id, GREATEST(m + {crit.offset}, {lo}) AS s,
         LEAST(m + {crit.offset + crit.months - 1}, COALESCE(next_m + {crit.offset - 1}, {hi}), {hi}) AS e
  FROM n WHERE value {crit.comparison} {crit.threshold!r}) y
WHERE s <= e"""
            return self._table(crit, sql, "latest lab value")
        if isinstance(crit, EventCriterion):
            def sql():
                rows = self.event_rows(crit)
                select = (f"SELECT DISTINCT patient_id, GREATEST(m + {crit.offset}, {lo}) AS s, "
                          f"LEAST(m + {crit.offset + crit.months - 1}, {hi}) AS e FROM ({rows}) x")
                return merge_intervals(select)
            return self._table(crit, sql, f"{crit.source} criterion")
        if isinstance(crit, ConcurrentDrugs):
            return self._table(crit, lambda: self._concurrent(crit), "concurrent drugs")
        if isinstance(crit, AnyOf):
            parts = [self.criterion(c) for c in crit.items]

            def sql():
                union = " UNION ALL ".join(f"SELECT patient_id, s, e FROM {t}" for t in parts)
                return merge_intervals(union)
            return self._table(crit, sql, "any_of")
        if isinstance(crit, AllOf):
            parts = [self.criterion(c) for c in crit.items]
            table = parts[0]
            for i, other in enumerate(parts[1:]):
                key = ("all_of", table, other)
                table = self._table(key, lambda a=table, b=other: self.intersect(a, b), f"all_of {i + 1}")
            return table
        if isinstance(crit, Not):
            inner = self.criterion(crit.item)
            return self._table(crit, lambda: self.complement(inner), "not")
        raise TypeError(f"unknown criterion {crit!r}")

    def _concurrent(self, crit: ConcurrentDrugs) -> str:
        # Dispensings covering one period end (most) skip the (inequality) join with ce_offsets; a coverage
        # spans at most ``back`` months, so only those offsets enter the join (Spark: a nested-loop join).
        lo, hi = self.plan.lo, self.plan.hi
        days = f"CEIL(LEAST(ddd, {MAX_COVERAGE_DAYS}))"
        first_uncovered = month_after_days("date", days)
        back = MAX_COVERAGE_DAYS // 28 + 1
        return f"""
WITH d AS (
  SELECT patient_id, SUBSTRING(atc, 1, 7) AS substance,
         GREATEST(m, {lo}) AS s, LEAST({first_uncovered} - 1, {hi}) AS e
  FROM ce_prescriptions
  WHERE {code_filter(crit)} AND ddd > 0 AND date >= {first_day(lo - back)} AND date < {first_day(hi + 1)}),
x AS (SELECT DISTINCT patient_id, p, substance FROM (
        SELECT patient_id, s AS p, substance FROM d WHERE e = s
        UNION ALL
        SELECT d.patient_id, d.s + o.k AS p, d.substance FROM d JOIN ce_offsets o ON o.k <= d.e - d.s
        AND o.k <= {back} WHERE d.e > d.s) y),
pts AS (SELECT patient_id, p FROM x GROUP BY patient_id, p HAVING COUNT(*) >= {crit.min_count}),
c AS (SELECT patient_id, p, p - ROW_NUMBER() OVER (PARTITION BY patient_id ORDER BY p) AS g FROM pts)
SELECT patient_id, MIN(p) AS s, MAX(p) AS e FROM c GROUP BY patient_id, g"""

    # -- interval algebra ----------------------------------------------------------------------
    @staticmethod
    def intersect(a: str, b: str, practice: bool = False) -> str:
        pc = "a.practice_id, " if practice else ""
        return f"""
SELECT a.patient_id, {pc}GREATEST(a.s, b.s) AS s, LEAST(a.e, b.e) AS e
FROM {a} a JOIN {b} b ON a.patient_id = b.patient_id AND a.s <= b.e AND b.s <= a.e"""

    def complement(self, table: str) -> str:
        lo, hi = self.plan.lo, self.plan.hi
        return f"""
WITH o AS (SELECT patient_id, s, e, LAG(e) OVER (PARTITION BY patient_id ORDER BY s) AS prev_e FROM {table})
SELECT patient_id, COALESCE(prev_e + 1, {lo}) AS s, s - 1 AS e FROM o WHERE COALESCE(prev_e + 1, {lo}) <= s - 1
UNION ALL
SELECT patient_id, MAX(e) + 1 AS s, {hi} AS e FROM {table} GROUP BY patient_id HAVING MAX(e) < {hi}
UNION ALL
SELECT p.patient_id, {lo} AS s, {hi} AS e FROM ce_patients p
WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.patient_id = p.patient_id)"""

    # -- populations ---------------------------------------------------------------------------
    def population(self, pop: Population) -> str:
        """Table (patient_id, practice_id, s, e) of the population."""
        lo, hi = self.plan.lo, self.plan.hi
        base_key = ("base", pop.age_min, pop.age_max, pop.sex)

        def base_sql():
            starts = ["l.ls", str(lo)]
            ends = [f"COALESCE(l.le, {hi})", f"COALESCE(pt.de, {hi})", str(hi)]
            if pop.age_min is not None:
                starts.append(f"pt.bm + {12 * pop.age_min}")
            if pop.age_max is not None:
                ends.append(f"pt.bm + {12 * pop.age_max + 11}")
            where = f"WHERE pt.sex = {_quote(pop.sex)}" if pop.sex else ""
            return f"""
SELECT patient_id, practice_id, s, e FROM (
  SELECT l.patient_id, l.practice_id, GREATEST({', '.join(starts)}) AS s, LEAST({', '.join(ends)}) AS e
  FROM ce_listings l JOIN ce_patients pt ON pt.patient_id = l.patient_id {where}) x
WHERE s <= e"""
        label = "population" if pop.age_min is None and pop.age_max is None and not pop.sex else "population (age/sex)"
        base = self._table(base_key, base_sql, label)
        if pop.require is None:
            return base
        crit = self.criterion(pop.require)
        return self._table(("pop", base, crit), lambda: self.intersect(base, crit, practice=True),
                           "population condition")

    # -- counts --------------------------------------------------------------------------------
    def persons(self, pop_table: str, crit=None) -> str:
        """Column name of the per-practice, per-period person count (a delta table)."""
        hi = self.plan.hi
        table = pop_table
        if crit is not None:
            ct = self.criterion(crit)
            table = self._table(("pop", pop_table, ct),
                                lambda: self.intersect(pop_table, ct, practice=True), "numerator persons")

        def sql():
            return f"""
SELECT practice_id, p, SUM(d) AS d FROM (
  SELECT practice_id, s AS p, 1 AS d FROM {table}
  UNION ALL SELECT practice_id, e + 1 AS p, -1 AS d FROM {table} WHERE e < {hi}) x
GROUP BY practice_id, p"""
        delta = self._table(("delta", table), sql, "person counts")
        self.plan.person_counts[delta] = delta
        return delta

    def events(self, pop_table: str, crit: EventCriterion) -> str:
        """Column name of the per-practice, per-period event count among the population."""
        def sql():
            return f"""
WITH ev AS (SELECT patient_id, m, COUNT(*) AS n FROM ({self.event_rows(crit)}) x GROUP BY patient_id, m)
SELECT pop.practice_id, ev.m + {crit.offset} + o.k AS p, SUM(ev.n) AS n
FROM ev JOIN ce_offsets o ON o.k < {crit.months}
JOIN {pop_table} pop ON pop.patient_id = ev.patient_id
  AND ev.m + {crit.offset} + o.k BETWEEN pop.s AND pop.e
GROUP BY pop.practice_id, ev.m + {crit.offset} + o.k"""
        table = self._table(("events", pop_table, crit), sql, "event counts")
        self.plan.event_counts[table] = table
        return table

    # -- indicators ----------------------------------------------------------------------------
    def add(self, ind: Indicator) -> None:
        pop = self.population(ind.denominator.population)
        if ind.denominator.count is not None:
            den = self.events(pop, ind.denominator.count)
        else:
            den = self.persons(pop)
        if ind.numerator.count is not None:
            num = self.events(pop, ind.numerator.count)
        else:
            num = self.persons(pop, ind.numerator.has)
        self.plan.columns[ind.id] = (num, den)

    def finish(self) -> Plan:
        """Add the listed-population count (the grid's filter) and return the plan."""
        self.plan.listed_column = self.persons(self.population(Population()))
        return self.plan


def final_query(plan: Plan) -> str:
    """Wide table: practice_id, p, one column per count table, for practices with listed patients.

    The count tables are stacked (``UNION ALL``, tagged by column) and spread into columns by one grouped
    sum, which the practice × period grid joins once; one left join per count table (about twenty) made a
    plan that Spark spent most of its time planning and compiling. Person counts are cumulative sums of their
    deltas over the periods; event counts are taken as they are.
    """
    tables = list(plan.person_counts) + list(plan.event_counts)
    parts = [f"SELECT practice_id, p, {i} AS c, CAST({'d' if t in plan.person_counts else 'n'} AS BIGINT) AS v "
             f"FROM {t}" for i, t in enumerate(tables)]
    spread = [f"SUM(CASE WHEN c = {i} THEN v ELSE 0 END) AS {t}" for i, t in enumerate(tables)]
    cols = [f"SUM(COALESCE(a.{t}, 0)) OVER (PARTITION BY g.practice_id ORDER BY g.p ROWS UNBOUNDED PRECEDING) "
            f"AS {t}" for t in plan.person_counts]
    cols += [f"COALESCE(a.{t}, 0) AS {t}" for t in plan.event_counts]
    union = "\n  UNION ALL ".join(parts)
    return f"""
WITH u AS (
  {union}),
a AS (SELECT practice_id, p, {', '.join(spread)} FROM u GROUP BY practice_id, p),
g AS (SELECT pr.practice_id, pe.p FROM (SELECT DISTINCT practice_id FROM ce_listings) pr
           CROSS JOIN ce_periods pe),
w AS (SELECT g.practice_id, g.p, {', '.join(cols)}
      FROM g LEFT JOIN a ON a.practice_id = g.practice_id AND a.p = g.p)
SELECT * FROM w WHERE {plan.listed_column} > 0"""


def compile_catalogue(indicators, lo: int, hi: int) -> Plan:
    """Compile indicators (an iterable of :class:`Indicator`) for periods ``lo..hi`` (month indices)."""
    comp = Compiler(lo, hi)
    for ind in indicators:
        comp.add(ind)
    return comp.finish()
