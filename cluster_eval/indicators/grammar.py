"""The catalogue's grammar: a parsed YAML document -> the dataclasses of :mod:`.definitions`, every rule checked.

Every rule broken raises :class:`~cluster_eval.errors.CatalogueError` naming the indicator (or
population), the field and the offending value (docs/events.md states the grammar).
"""
from __future__ import annotations

import re

from ..errors import CatalogueError
from .definitions import (
    AllOf,
    AnyOf,
    ConcurrentDrugs,
    Denominator,
    EventCriterion,
    Indicator,
    Not,
    Numerator,
    Population,
)

KINDS = ("proportion", "rate")
BETTER = ("lower", "higher", "none")
SEXES = ("F", "M")
MAX_WINDOW_MONTHS = 240
MAX_OFFSET_MONTHS = 120
MAX_COVERAGE_DAYS = 365
EVENT_SOURCES = {"prescription": "prescriptions", "diagnosis": "diagnoses", "lab": "lab_tests"}
COMPARISONS = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}

# ATC anatomical main groups; a code may stop at any level (A, A10, A10B, A10BA, A10BA02).
ATC_RE = re.compile(r"^[ABCDGHJLMNPRSV](\d{2}([A-Z]([A-Z](\d{2})?)?)?)?$")
# ICPC-2 chapters; a code or a prefix of one (T90, T9).
ICPC2_RE = re.compile(r"^[ABDFHKLNPRSTUWXYZ]\d{1,2}$")
# ICD-10 (WHO form, no dot, no Danish SKS 'D' prefix): E11, E119, J44.
ICD10_RE = re.compile(r"^[A-Z]\d{1,2}[0-9A-Z]{0,3}$")
# Laboratory codes: NPU and Danish DNK codes; SSR fee-schedule services (e.g. SSR7113 spirometry).
LAB_RE = re.compile(r"^(NPU|DNK)\d{5}$|^SSR\d{4}$")
DIAGNOSIS_SYSTEMS = {"ICPC2": ICPC2_RE, "ICD10": ICD10_RE}
ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class _Ctx:
    """Where we are, for messages: 'indicator 'abx_rate', field 'numerator.count.months''."""

    def __init__(self, owner: str, path: str = ""):
        self.owner, self.path = owner, path

    def at(self, name) -> _Ctx:
        return _Ctx(self.owner, f"{self.path}.{name}" if self.path else str(name))

    def fail(self, rule: str, value=None, show_value=True) -> CatalogueError:
        text = f"{self.owner}, field '{self.path}': {rule}"
        if show_value:
            text += f"; got {value!r}"
        return CatalogueError(text)


def _mapping(value, ctx: _Ctx, allowed: set, required: set = frozenset()) -> dict:
    if not isinstance(value, dict):
        raise ctx.fail("must be a mapping", value)
    unknown = sorted(set(value) - allowed, key=str)
    if unknown:
        raise ctx.at(unknown[0]).fail(f"unknown field (allowed: {', '.join(sorted(allowed))})", unknown[0])
    missing = sorted(required - set(value))
    if missing:
        raise ctx.at(missing[0]).fail("required field is missing", show_value=False)
    return value


def _int(value, ctx: _Ctx, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.fail("must be a whole number", value)
    if not lo <= value <= hi:
        raise ctx.fail(f"must be between {lo} and {hi}", value)
    return value


def _codes(value, ctx: _Ctx, regex, what: str) -> tuple:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ctx.fail(f"must be a non-empty list of {what} codes", value)
    out = []
    for i, code in enumerate(value):
        if not isinstance(code, str) or not regex.match(code):
            hint = ""
            if what == "ICD-10" and isinstance(code, str) and re.match(r"^D[A-Z]\d", code):
                hint = " (write the WHO code without the Danish SKS 'D' prefix, e.g. E11 not DE11)"
            raise ctx.at(i).fail(f"is not a valid {what} code{hint}", code)
        out.append(code)
    return tuple(sorted(set(out)))


def _window(spec: dict, ctx: _Ctx) -> tuple[int, int]:
    months = _int(spec.get("months", 1), ctx.at("months"), 1, MAX_WINDOW_MONTHS)
    offset = _int(spec.get("offset", 0), ctx.at("offset"), 0, MAX_OFFSET_MONTHS)
    return months, offset


def _event_criterion(spec: dict, ctx: _Ctx) -> EventCriterion:
    kinds = [k for k in EVENT_SOURCES if k in spec]
    kind = kinds[0]
    if kind == "prescription":
        _mapping(spec, ctx, {"prescription", "months", "offset"})
        codes = _codes(spec["prescription"], ctx.at("prescription"), ATC_RE, "ATC")
        return EventCriterion("prescriptions", codes, *_window(spec, ctx))
    if kind == "diagnosis":
        _mapping(spec, ctx, {"diagnosis", "months", "offset"})
        dctx = ctx.at("diagnosis")
        systems = _mapping(spec["diagnosis"], dctx, set(DIAGNOSIS_SYSTEMS))
        if not systems:
            raise dctx.fail("must name codes for at least one system (ICPC2, ICD10)", spec["diagnosis"])
        pairs = []
        for system, regex in DIAGNOSIS_SYSTEMS.items():
            if system in systems:
                what = "ICPC-2" if system == "ICPC2" else "ICD-10"
                pairs += [(system, c) for c in _codes(systems[system], dctx.at(system), regex, what)]
        return EventCriterion("diagnoses", tuple(sorted(pairs)), *_window(spec, ctx))
    _mapping(spec, ctx, {"lab", "months", "offset", "value", "latest"})
    codes = _codes(spec["lab"], ctx.at("lab"), LAB_RE, "NPU/DNK/SSR laboratory")
    months, offset = _window(spec, ctx)
    comparison = threshold = None
    if "value" in spec:
        vctx = ctx.at("value")
        value = _mapping(spec["value"], vctx, set(COMPARISONS))
        if len(value) != 1:
            raise vctx.fail(f"must hold exactly one comparison ({', '.join(COMPARISONS)})", spec["value"])
        (op, threshold), = value.items()
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise vctx.at(op).fail("must be a number", threshold)
        comparison, threshold = COMPARISONS[op], float(threshold)
    latest = spec.get("latest", False)
    if not isinstance(latest, bool):
        raise ctx.at("latest").fail("must be true or false", latest)
    if latest and comparison is None:
        raise ctx.at("latest").fail("needs a 'value' comparison to apply to the latest test", latest)
    return EventCriterion("lab_tests", codes, months, offset, comparison, threshold, latest)


CRITERION_KEYS = set(EVENT_SOURCES) | {"concurrent_drugs", "any_of", "all_of", "not"}


def parse_criterion(spec, ctx: _Ctx):
    """A criterion mapping → dataclass (see the module docstring for the vocabulary)."""
    if not isinstance(spec, dict):
        raise ctx.fail("must be a mapping naming one criterion", spec)
    kinds = [k for k in spec if k in CRITERION_KEYS]
    if len(kinds) != 1:
        if not kinds:
            unknown = sorted(set(spec) - CRITERION_KEYS, key=str)
            raise ctx.fail(f"must name one criterion ({', '.join(sorted(CRITERION_KEYS))})",
                           unknown[0] if unknown else spec)
        raise ctx.fail("must name exactly one criterion", sorted(kinds))
    kind = kinds[0]
    if kind in EVENT_SOURCES:
        return _event_criterion(spec, ctx)
    if kind == "concurrent_drugs":
        _mapping(spec, ctx, {"concurrent_drugs"})
        cctx = ctx.at("concurrent_drugs")
        body = _mapping(spec["concurrent_drugs"], cctx, {"min", "atc"}, {"min"})
        n = _int(body["min"], cctx.at("min"), 1, 100)
        codes = _codes(body["atc"], cctx.at("atc"), ATC_RE, "ATC") if "atc" in body else ()
        return ConcurrentDrugs(n, codes)
    _mapping(spec, ctx, {kind})
    if kind == "not":
        return Not(parse_criterion(spec["not"], ctx.at("not")))
    items = spec[kind]
    if not isinstance(items, list) or not items:
        raise ctx.at(kind).fail("must be a non-empty list of criteria", items)
    parsed = tuple(parse_criterion(x, ctx.at(kind).at(i)) for i, x in enumerate(items))
    return AnyOf(parsed) if kind == "any_of" else AllOf(parsed)


def parse_population(spec, ctx: _Ctx) -> Population:
    spec = {} if spec is None else spec
    _mapping(spec, ctx, {"age", "sex", "require", "description"})
    age_min = age_max = None
    if "age" in spec:
        actx = ctx.at("age")
        age = _mapping(spec["age"], actx, {"min", "max"})
        age_min = _int(age["min"], actx.at("min"), 0, 130) if "min" in age else None
        age_max = _int(age["max"], actx.at("max"), 0, 130) if "max" in age else None
        if age_min is not None and age_max is not None and age_min > age_max:
            raise actx.fail("min must not exceed max", spec["age"])
    sex = spec.get("sex")
    if sex is not None and sex not in SEXES:
        raise ctx.at("sex").fail("must be 'F' or 'M'", sex)
    require = parse_criterion(spec["require"], ctx.at("require")) if "require" in spec else None
    return Population(age_min, age_max, sex, require)


def _population_ref(value, ctx: _Ctx, populations: dict) -> tuple[Population, str | None]:
    if isinstance(value, str):
        if value not in populations:
            raise ctx.fail(f"names no population of the catalogue (known: {', '.join(sorted(populations))})",
                           value)
        return populations[value], value
    return parse_population(value, ctx), None


def _counted_event(spec, ctx: _Ctx) -> EventCriterion:
    crit = parse_criterion(spec, ctx)
    if not isinstance(crit, EventCriterion) or crit.latest:
        raise ctx.fail("must be one prescription, diagnosis or lab criterion (events are counted)", spec)
    return crit


def _nested(num: EventCriterion, den: EventCriterion) -> bool:
    """Every event the numerator counts is one the denominator counts."""
    if (num.source, num.months, num.offset) != (den.source, den.months, den.offset):
        return False
    if den.comparison is not None and (num.comparison, num.threshold) != (den.comparison, den.threshold):
        return False

    def covered(code):
        if num.source == "diagnoses":
            return any(code[0] == d[0] and code[1].startswith(d[1]) for d in den.codes)
        return any(code.startswith(d) for d in den.codes)
    return all(covered(c) for c in num.codes)


INDICATOR_FIELDS = {"id", "title", "topic", "kind", "multiplier", "better", "target", "standardised",
                    "denominator", "numerator", "description", "unit", "primary", "title_da"}
INDICATOR_REQUIRED = {"id", "title", "topic", "kind", "multiplier", "better", "denominator", "numerator"}


def parse_indicator(spec, populations: dict, position: int) -> Indicator:
    owner = f"indicator {spec.get('id')!r}" if isinstance(spec, dict) and "id" in spec \
        else f"indicator #{position + 1}"
    ctx = _Ctx(owner)
    _mapping(spec, ctx, INDICATOR_FIELDS, INDICATOR_REQUIRED)
    iid = spec["id"]
    if not isinstance(iid, str) or not ID_RE.match(iid):
        raise ctx.at("id").fail("must be lower-case letters, digits and underscores, starting with a letter",
                                iid)
    for name in ("title", "topic"):
        if not isinstance(spec[name], str) or not spec[name].strip():
            raise ctx.at(name).fail("must be a non-empty string", spec[name])
    if spec["kind"] not in KINDS:
        raise ctx.at("kind").fail("must be 'proportion' or 'rate'", spec["kind"])
    if spec["better"] not in BETTER:
        raise ctx.at("better").fail("must be 'lower', 'higher' or 'none' (none: no verdict words)", spec["better"])
    if not isinstance(spec.get("primary", False), bool):
        raise ctx.at("primary").fail("must be true or false", spec["primary"])
    mult = spec["multiplier"]
    if isinstance(mult, bool) or not isinstance(mult, int | float) or not mult > 0:
        raise ctx.at("multiplier").fail("must be a positive number", mult)
    if spec["kind"] == "proportion" and mult not in (1, 100):
        raise ctx.at("multiplier").fail("must be 1 (fraction) or 100 (per cent) for a proportion", mult)
    target = spec.get("target")
    if target is not None:
        if isinstance(target, bool) or not isinstance(target, int | float):
            raise ctx.at("target").fail("must be a number or null", target)
        if spec["kind"] == "proportion" and not 0 <= target <= mult:
            raise ctx.at("target").fail(f"must be between 0 and {mult} for a proportion", target)
        if target < 0:
            raise ctx.at("target").fail("must not be negative", target)
    std = spec.get("standardised", False)
    if not isinstance(std, bool):
        raise ctx.at("standardised").fail("must be true or false", std)
    for name in ("description", "unit", "title_da"):
        if name in spec and not isinstance(spec[name], str):
            raise ctx.at(name).fail("must be a string", spec[name])

    dctx = ctx.at("denominator")
    dspec = _mapping(spec["denominator"], dctx, {"population", "count"}, {"population"})
    pop, pop_name = _population_ref(dspec["population"], dctx.at("population"), populations)
    dcount = _counted_event(dspec["count"], dctx.at("count")) if "count" in dspec else None
    denominator = Denominator(pop, pop_name, dcount)

    nctx = ctx.at("numerator")
    nspec = _mapping(spec["numerator"], nctx, {"has", "count"})
    if len(nspec) != 1:
        raise nctx.fail("must hold exactly one of 'has' (persons) and 'count' (events)", spec["numerator"])
    if "has" in nspec:
        numerator = Numerator(has=parse_criterion(nspec["has"], nctx.at("has")))
    else:
        numerator = Numerator(count=_counted_event(nspec["count"], nctx.at("count")))

    if spec["kind"] == "proportion":
        if dcount is None and numerator.count is not None:
            raise nctx.at("count").fail("a proportion of persons needs a 'has' numerator, not an event count",
                                        nspec["count"])
        if dcount is not None:
            if numerator.count is None:
                raise nctx.at("has").fail("a proportion of events needs a 'count' numerator", nspec["has"])
            if not _nested(numerator.count, dcount):
                raise nctx.at("count").fail(
                    "must count a subset of the denominator's events (same source and window, codes "
                    "within the denominator's codes)", nspec["count"])
    elif dcount is not None:
        raise dctx.at("count").fail("a rate's denominator is persons (per 1,000 listed); drop 'count'",
                                    dspec["count"])
    return Indicator(iid, spec["title"].strip(), spec["topic"].strip(), spec["kind"], float(mult),
                     spec["better"], None if target is None else float(target), std, denominator, numerator,
                     spec.get("description", "").strip(), spec.get("unit", ""), spec.get("primary", False),
                     spec.get("title_da", "").strip())


def parse_catalogue(doc, source: str = "catalogue") -> dict[str, Indicator]:
    """A parsed YAML document → ``{id: Indicator}`` (insertion order kept)."""
    ctx = _Ctx(source)
    doc = _mapping(doc, ctx, {"version", "populations", "indicators"}, {"indicators"})
    populations = {}
    pops = doc.get("populations") or {}
    if not isinstance(pops, dict):
        raise ctx.at("populations").fail("must be a mapping of name to population", pops)
    for name, pspec in pops.items():
        if not isinstance(name, str) or not ID_RE.match(name):
            raise ctx.at("populations").fail("population names are lower-case identifiers", name)
        populations[name] = parse_population(pspec, _Ctx(f"population {name!r}"))
    items = doc["indicators"]
    if not isinstance(items, list) or not items:
        raise ctx.at("indicators").fail("must be a non-empty list of indicators", items)
    out: dict[str, Indicator] = {}
    for i, spec in enumerate(items):
        ind = parse_indicator(spec, populations, i)
        if ind.id in out:
            raise _Ctx(f"indicator {ind.id!r}").at("id").fail(
                f"duplicate id (indicators #{list(out).index(ind.id) + 1} and #{i + 1})", ind.id)
        out[ind.id] = ind
    by_topic: dict[str, list[str]] = {}
    for ind in out.values():
        by_topic.setdefault(ind.topic, []).append(ind.id)
    for topic, ids in by_topic.items():
        primary = [i for i in ids if out[i].primary]
        if len(primary) > 1:
            raise _Ctx(f"topic {topic!r}").at("primary").fail(
                f"one primary indicator per topic; {len(primary)} are marked ({', '.join(primary)})", None,
                show_value=False)
        if not primary and any(o.primary for o in out.values()):
            raise _Ctx(f"topic {topic!r}").at("primary").fail(
                f"no indicator of the topic is marked 'primary: true' (one of: {', '.join(ids)})", None,
                show_value=False)
    return out
