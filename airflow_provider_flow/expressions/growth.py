"""The compile-time growth check: how much larger than its input an expression's text lets a result become.

It catches what the text alone shows (``@ | [@,@] | [@,@] | ...`` doubling, ``replace`` with a long literal);
growth that depends on the data is bounded at run time by :mod:`.budget`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Largest accepted growth factor of an expression's result over its input (see :func:`expansion`).
MAX_EXPANSION = 1000

#: Node types whose right child runs on the left child's result, so their growth factors multiply.
_CHAINED = frozenset(
    {"subexpression", "pipe", "projection", "value_projection", "filter_projection", "index_expression"}
)

#: Growth factors up to this are not measured at run time: a result at most this many times its input is bounded
#: by the input's own limits (max_response_bytes, file sizes), and measuring every record's result costs time.
MEASURED_GROWTH = 16

#: Functions that insert one of their arguments (by position) between the characters or items of another.
_INSERTING = {"replace": 2, "join": 0}


def expansion(node: Any) -> int:
    """An upper bound on how many times larger than the record an expression's result can be.

    JMESPath cannot loop, but ``@ | [@,@] | [@,@] | ...`` doubles the result with every 8 characters (2^30
    copies of the record from a 240-character expression, serialized when the record is written), and nested
    ``replace`` calls multiply a string the same way. Expressions can come from trigger-time params, so such
    growth is refused when compiling instead of exhausting a worker's memory. Legitimate reshaping stays far
    below the bound: a multi-select adds its parts up; only chaining one into another multiplies.
    """
    if not isinstance(node, Mapping):
        return 1  # slice bounds and other plain values
    kind = node.get("type")
    children = [expansion(child) for child in node.get("children", ())]
    if kind in ("multi_select_list", "multi_select_dict"):
        return max(1, sum(children))
    if kind in _CHAINED:
        left, right = [*children, 1, 1][:2]  # filter_projection's comparator only decides, it adds nothing
        return left * right
    if kind in ("and_expression", "or_expression"):
        return max(children, default=1)
    if kind == "function_expression":
        factor = 1
        for child in children:
            factor *= child
        # Text inserted between characters or items: replace(s, '', new), join(glue, split(s, ''))
        inserted = _INSERTING.get(str(node.get("value")))
        args = node.get("children", ())
        if inserted is not None and len(args) > inserted and isinstance(args[inserted], Mapping):
            text = args[inserted].get("value") if args[inserted].get("type") == "literal" else None
            factor *= len(text) + 1 if isinstance(text, str) else 1
        return factor
    if kind in ("comparator", "not_expression", "literal", "field", "current", "identity", "index", "slice"):
        return 1
    return max(children, default=1)  # key_val_pair, flatten, expref: as large as what they wrap


def calls(node: Any, names: frozenset[str]) -> bool:
    """Whether the expression (its parsed AST) calls any function in ``names``, anywhere (``&expr`` included)."""
    if not isinstance(node, Mapping):
        return False
    if node.get("type") == "function_expression" and node.get("value") in names:
        return True
    return any(calls(child, names) for child in node.get("children", ()))
