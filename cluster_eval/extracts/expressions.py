"""Derived columns: a small, safe arithmetic grammar compiled to DuckDB SQL.

A derived column in an extract mapping is an arithmetic expression over the extract's own columns and
numbers, e.g. the total defined daily doses of a dispensing in the prescription register::

    derived: {ddd: "APK * VOLUME"}        # packages dispensed x DDD per package

Grammar (parsed with :mod:`ast`, nothing is evaluated by Python)::

    expr   := expr ('+' | '-' | '*' | '/') expr | '-' expr | '(' expr ')' | NUMBER | COLUMN
    COLUMN := a column name of the extract (a Python identifier, e.g. APK, volume_ddd)

Every column is read as a number with the table's decimal mark; a missing value or a division by
zero gives a missing result. Anything else (calls, attributes, strings, comparisons, ``**``) is
refused with a :class:`~cluster_eval.errors.ConfigError` naming the expression and what is not
allowed.
"""
from __future__ import annotations

import ast
from collections.abc import Callable

from ..errors import ConfigError

OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def parse_expression(text, where: str) -> ast.expr:
    """Parse and check an expression; return its tree. ``where`` names it in messages."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        text = repr(text)
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where} must be an arithmetic expression over columns (e.g. 'APK * VOLUME'); "
                          f"got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ConfigError(f"{where}: {text!r} is not a valid expression ({exc.msg})") from None
    _check(tree, text, where)
    return tree


def _check(node, text, where):
    if isinstance(node, ast.BinOp):
        if type(node.op) not in OPERATORS:
            raise ConfigError(f"{where}: {text!r} uses an operator that is not allowed "
                              f"({type(node.op).__name__}); allowed: + - * / and parentheses")
        _check(node.left, text, where)
        _check(node.right, text, where)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise ConfigError(f"{where}: {text!r} uses an operator that is not allowed "
                              f"({type(node.op).__name__}); allowed: + - * / and parentheses")
        _check(node.operand, text, where)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ConfigError(f"{where}: {text!r} contains {node.value!r}; only numbers and column names "
                              "are allowed")
    elif isinstance(node, ast.Name):
        pass
    else:
        raise ConfigError(f"{where}: {text!r} contains {ast.unparse(node)!r} ({type(node).__name__}); only "
                          "numbers, column names, + - * / and parentheses are allowed")


def columns_of(tree: ast.expr) -> list[str]:
    """The column names an expression reads, in order of first use."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in out:
            out.append(node.id)
    return out


def to_sql(tree: ast.expr, column: Callable[[str], str]) -> str:
    """DuckDB SQL for an expression; ``column(name)`` gives the SQL reading a column as a DOUBLE."""
    if isinstance(tree, ast.BinOp):
        left, right = to_sql(tree.left, column), to_sql(tree.right, column)
        if isinstance(tree.op, ast.Div):
            return f"({left} / NULLIF({right}, 0))"
        return f"({left} {OPERATORS[type(tree.op)]} {right})"
    if isinstance(tree, ast.UnaryOp):
        return f"(-{to_sql(tree.operand, column)})" if isinstance(tree.op, ast.USub) else to_sql(tree.operand, column)
    if isinstance(tree, ast.Constant):
        return f"CAST({float(tree.value)!r} AS DOUBLE)"
    return column(tree.id)
