"""The functions expressions may call: JMESPath's built-ins plus a few string helpers, each bounded by the budget.

Added helpers (JMESPath lacks them): ``lower(s)``, ``upper(s)``, ``trim(s)``, ``split(s, sep)``,
``replace(s, old, new)``. Every function that can build more than it was given (``split``, ``replace``, and the
built-ins ``join`` and ``to_string``) charges the size of its result to the evaluation's budget before building it
(:mod:`.budget`); the others return at most what they received.
"""

from __future__ import annotations

import json

import jmespath
from jmespath import functions as jp_functions
from jmespath import visitor as jp_visitor

from airflow_provider_flow.expressions import budget


class _FlowFunctions(jp_functions.Functions):
    """String helpers missing from JMESPath. Pure functions of their arguments, like the built-ins."""

    @jp_functions.signature({"types": ["string"]})
    def _func_lower(self, s: str) -> str:
        return s.lower()

    @jp_functions.signature({"types": ["string"]})
    def _func_upper(self, s: str) -> str:
        return s.upper()

    @jp_functions.signature({"types": ["string"]})
    def _func_trim(self, s: str) -> str:
        return s.strip()

    @jp_functions.signature({"types": ["string"]}, {"types": ["string"]})
    def _func_split(self, s: str, sep: str) -> list[str]:
        pieces = s.count(sep) + 1 if sep else len(s)
        budget.charge(len(s) + 3 * pieces, "split()")  # each piece adds quotes and a comma
        return s.split(sep) if sep else list(s)

    @jp_functions.signature({"types": ["string"]}, {"types": ["string"]}, {"types": ["string"]})
    def _func_replace(self, s: str, old: str, new: str) -> str:
        budget.charge(len(s) + s.count(old) * max(len(new) - len(old), 0), "replace()")  # ''.count('') == len+1
        return s.replace(old, new)

    @jp_functions.signature({"types": ["string"]}, {"types": ["array-string"]})
    def _func_join(self, separator: str, array: list[str]) -> str:
        budget.charge(sum(map(len, array)) + len(separator) * max(len(array) - 1, 0), "join()")
        return separator.join(array)

    @jp_functions.signature({"types": []})
    def _func_to_string(self, arg: object) -> str:
        if isinstance(arg, str):
            return arg
        budget.charge(budget.json_size(arg, budget.remaining(), "to_string()"), "to_string()")
        return json.dumps(arg, separators=(",", ":"), default=str)  # as jmespath's own to_string


#: The functions above that charge the budget: an expression calling none of them skips starting one.
CHARGING = frozenset({"split", "replace", "join", "to_string"})

FUNCTIONS = _FlowFunctions()
OPTIONS = jmespath.Options(custom_functions=FUNCTIONS)
#: One interpreter for every search: jmespath's ``ParsedResult.search`` builds a new one per call, which costs
#: more than the evaluation itself on a million records. The interpreter holds no per-search state.
INTERPRETER = jp_visitor.TreeInterpreter(OPTIONS)
