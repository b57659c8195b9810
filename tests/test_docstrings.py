"""Every public function and results class documents its parameters, what it returns and its method's source.

Walks the public API (``__all__`` of ``ce.stats``, ``ce.spc``, ``ce.impact``, ``ce.indicators``,
``ce.disclosure``, ``ce.synthetic``, ``ce.data`` and ``ce.load_dataset``) and every results class the package
defines (a class that renders in a notebook: ``_repr_html_``), and checks the numpydoc sections that the API
reference (docs/api/, built by ``make docs``) shows:

- a docstring; a ``Parameters`` section when the callable takes arguments; a ``Returns`` (or ``Yields``)
  section unless it returns nothing (annotated ``-> None``) or is a class;
- for the statistical subpackages (stats, spc, impact): a reference to the method's published source, as a
  ``References`` section or an author-year citation, in the docstring or its module's docstring;
- for a results class: a class docstring with an ``Attributes`` (or ``Parameters``) section, and a docstring
  on each public method.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import cluster_eval as ce

PUBLIC_MODULES = ("stats", "spc", "impact", "indicators", "disclosure", "synthetic", "data")
NEEDS_REFERENCE = ("stats", "spc", "impact")
# plumbing, not a statistical method: no published source to cite
NOT_A_METHOD = {"ce.impact.get_estimator", "ce.impact.register_estimator"}
# "Spiegelhalter 2005", "Callaway & Sant'Anna (2021)", "Wilson (1927)", "McPherson et al. 1982" ...
CITATION = re.compile(r"[A-Z][A-Za-z'\-]+(?: et al\.?| (?:&|and) [A-Z][A-Za-z'\-]+)?,? \(?(1[89]\d\d|20\d\d)[a-z]?\b")


def _section(doc: str, *names: str) -> bool:
    return any(re.search(rf"^\s*{name}\s*\n\s*-{{3,}}\s*$", doc, re.M) for name in names)


def _takes_arguments(obj) -> bool:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return False
    return any(p.name not in ("self", "cls") for p in sig.parameters.values())


def _returns_nothing(obj) -> bool:
    try:
        ann = inspect.signature(obj).return_annotation
    except (TypeError, ValueError):
        return False
    return ann in (None, "None")


def _has_reference(obj, doc: str) -> bool:
    module_doc = inspect.getdoc(inspect.getmodule(obj)) or ""
    return any(_section(d, "References") or re.search(r"^Reference:", d, re.M) or CITATION.search(d)
               for d in (doc, module_doc))


def public_functions():
    seen = {}
    for modname in PUBLIC_MODULES:
        mod = getattr(ce, modname)
        for name in getattr(mod, "__all__", [n for n in dir(mod) if not n.startswith("_")]):
            obj = getattr(mod, name)
            if inspect.isfunction(obj):
                seen.setdefault(f"ce.{modname}.{name}", (modname, obj))
    seen["ce.load_dataset"] = ("data", ce.load_dataset)
    return seen


def results_classes():
    found = {}
    for info in pkgutil.walk_packages(ce.__path__, "cluster_eval."):
        if info.name.endswith("__main__"):
            continue
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if (inspect.isclass(obj) and obj.__module__ == info.name and not name.startswith("_")
                    and "_repr_html_" in dir(obj)):
                found[f"{info.name}.{name}"] = obj
    return found


FUNCTIONS = public_functions()
CLASSES = results_classes()


def function_problems(label: str, modname: str, obj) -> list[str]:
    doc = inspect.getdoc(obj) or ""
    if not doc.strip():
        return [f"{label}: no docstring"]
    problems = []
    if _takes_arguments(obj) and not _section(doc, "Parameters"):
        problems.append(f"{label}: no 'Parameters' section")
    if not _returns_nothing(obj) and not _section(doc, "Returns", "Yields"):
        problems.append(f"{label}: no 'Returns' section")
    if modname in NEEDS_REFERENCE and label not in NOT_A_METHOD and not _has_reference(obj, doc):
        problems.append(f"{label}: no reference to the method's source ('References' section or author-year)")
    return problems


def class_problems(label: str, cls) -> list[str]:
    doc = inspect.getdoc(cls) or ""
    if not doc.strip() or cls.__doc__ is None:
        return [f"{label}: no class docstring"]
    problems = []
    if not _section(doc, "Attributes", "Parameters"):
        problems.append(f"{label}: no 'Attributes' section")
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property)):
            continue
        if not (inspect.getdoc(member) or "").strip():
            problems.append(f"{label}.{name}: no docstring")
    return problems


def test_the_walk_finds_the_api():
    assert {"ce.stats.proportion_ci", "ce.spc.qic", "ce.impact.att_gt", "ce.load_dataset"} <= set(FUNCTIONS)
    assert any(k.endswith(".FunnelResult") for k in CLASSES)
    assert any(k.endswith(".PoolResults") for k in CLASSES)


@pytest.mark.parametrize("label", sorted(FUNCTIONS))
def test_function_docstring(label):
    modname, obj = FUNCTIONS[label]
    assert not function_problems(label, modname, obj)


@pytest.mark.parametrize("label", sorted(CLASSES))
def test_results_class_docstring(label):
    assert not class_problems(label, CLASSES[label])


def test_checker_catches_a_bare_function():
    def bare(x, confidence=0.95):
        """Compute something."""
        return x

    problems = function_problems("bare", "stats", bare)
    assert any("'Parameters'" in p for p in problems)
    assert any("'Returns'" in p for p in problems)
    assert any("reference" in p for p in problems)  # neither it nor this module's docstring cites a source


def test_citation_pattern():
    assert CITATION.search("Wilson (1927) score limits")
    assert CITATION.search("Callaway & Sant'Anna 2021")
    assert CITATION.search("McPherson et al. 1982")
    assert not CITATION.search("multiplier 1000 per month")
