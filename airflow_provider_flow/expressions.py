"""Safe expressions over JSON-shaped records: JMESPath, compiled once, never Python.

Expressions reach a task from DAG files, flow files and even trigger-time params, so they are *data*: they can
read a record and compute values from it, and nothing else (no attribute access, imports, calls into Python,
loops without input). JMESPath is the established, specified language for exactly that (it is what the AWS CLI
and Ansible use); writing a parser here would be a liability.

Every config field that holds an expression is typed :data:`JmesPath` (transform operations, ``records_path``,
pagination paths) or :data:`TemplateText` (prompts), so it is compiled, size-guarded and refused at DAG-parse
time like any other invalid value. Runtimes then call :func:`compile_expression` once per expression (syntax
errors become a :class:`FlowValidationError` naming the field and the parse position) and
:meth:`Expression.search` per record (a failure names the record index, the expression and the reason). A
few string helpers that JMESPath lacks are added as custom functions: ``lower(s)``, ``upper(s)``, ``trim(s)``,
``split(s, sep)``, ``replace(s, old, new)``.

:func:`compile_template` builds prompt-style text with ``${expression}`` placeholders over the same language
(used by ``ai.transform``), so a prompt can never reach Python either.

Truthiness (used by ``filter``) follows JMESPath: ``false``, ``null``, ``""``, ``[]`` and ``{}`` are false,
everything else (including ``0``) is true. Comparisons other than ``==``/``!=`` need numbers on both sides.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import jmespath
from jmespath import functions as jp_functions
from jmespath import visitor as jp_visitor
from jmespath.exceptions import JMESPathError, ParseError
from pydantic import AfterValidator

from airflow_provider_flow.errors import FlowValidationError

#: Longest accepted expression: a guard against pasted payloads, far above any real expression.
MAX_EXPRESSION_LENGTH = 4000

#: Largest accepted growth factor of an expression's result over its input (see :func:`_expansion`).
MAX_EXPANSION = 1000

#: Node types whose right child runs on the left child's result, so their growth factors multiply.
_CHAINED = frozenset(
    {"subexpression", "pipe", "projection", "value_projection", "filter_projection", "index_expression"}
)

#: Functions that insert one of their arguments (by position) between the characters or items of another.
_INSERTING = {"replace": 2, "join": 0}

#: Errors a pure expression can raise while evaluating against one record (jmespath 1.x raises a plain
#: TypeError for e.g. ``'a' > `1```).
_EVALUATION_ERRORS = (JMESPathError, TypeError, ValueError, ArithmeticError, KeyError, IndexError, AttributeError)


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
        return s.split(sep) if sep else list(s)

    @jp_functions.signature({"types": ["string"]}, {"types": ["string"]}, {"types": ["string"]})
    def _func_replace(self, s: str, old: str, new: str) -> str:
        return s.replace(old, new)


_FUNCTIONS = _FlowFunctions()
_OPTIONS = jmespath.Options(custom_functions=_FUNCTIONS)
#: One interpreter for every search: jmespath's ``ParsedResult.search`` builds a new one per call, which costs
#: more than the evaluation itself on a million records. The interpreter holds no per-search state.
_INTERPRETER = jp_visitor.TreeInterpreter(_OPTIONS)


Evaluator = Callable[[Any], Any]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_comparable(value: Any) -> bool:
    """What jmespath 1.1 orders with < <= > >=: numbers and strings (mixed pairs raise TypeError there too)."""
    return _is_number(value) or isinstance(value, str)


def _closure(node: Mapping[str, Any]) -> Evaluator | None:
    """Compile the commonest node types into plain closures, with the interpreter's exact semantics.

    Per record, walking jmespath's AST costs a method lookup and call per node; a closure tree does the same
    work in a fraction of the time. Anything not listed here returns None and the whole expression falls back
    to the interpreter (tests check both paths agree).
    """
    kind = node.get("type")
    children = [_closure(child) for child in node.get("children", ()) if isinstance(child, dict)]
    if any(child is None for child in children):
        return None
    subs: list[Evaluator] = [c for c in children if c is not None]
    if kind == "field":
        key = node["value"]
        return lambda v: v.get(key) if isinstance(v, dict) else None
    if kind in ("subexpression", "pipe"):

        def chain(v: Any) -> Any:
            for sub in subs:
                v = sub(v)
            return v

        return chain
    if kind in ("current", "identity"):
        return lambda v: v
    if kind == "literal":
        literal = node["value"]
        return lambda v: literal
    if kind == "comparator" and len(subs) == 2:
        compare = jp_visitor.TreeInterpreter.COMPARATOR_FUNC[node["value"]]
        left, right = subs
        if node["value"] in ("eq", "ne"):
            return lambda v: compare(left(v), right(v))

        def ordered(v: Any) -> Any:
            a, b = left(v), right(v)
            if not (_is_comparable(a) and _is_comparable(b)):
                return None
            return compare(a, b)

        return ordered
    if kind == "and_expression" and len(subs) == 2:
        first, second = subs

        def both(v: Any) -> Any:
            matched = first(v)
            return second(v) if is_truthy(matched) else matched

        return both
    if kind == "or_expression" and len(subs) == 2:
        first, second = subs

        def either(v: Any) -> Any:
            matched = first(v)
            return matched if is_truthy(matched) else second(v)

        return either
    if kind == "not_expression" and len(subs) == 1:
        (inner,) = subs

        def negate(v: Any) -> Any:
            result = inner(v)
            if _is_number(result) and result == 0:
                return False
            return not result

        return negate
    if kind == "function_expression":
        name = node["value"]
        call = _FUNCTIONS.call_function
        return lambda v: call(name, [sub(v) for sub in subs])
    return None


def _expansion(node: Any) -> int:
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
    children = [_expansion(child) for child in node.get("children", ())]
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


def _shorten(value: Any, limit: int = 120) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def is_truthy(value: Any) -> bool:
    """JMESPath truthiness: false, null, empty string/array/object are false; 0 is true."""
    if value is None or value is False:
        return False
    return not (isinstance(value, (str, list, dict)) and not value)


@dataclass(frozen=True)
class Expression:
    """A compiled expression and where it came from (for error messages)."""

    source: str
    field: str
    _parsed: Any
    _fast: Evaluator | None = None

    def search(self, record: Any, *, index: int | None = None) -> Any:
        """Evaluate against one record; a failure raises FlowValidationError naming the record and the reason."""
        try:
            if self._fast is not None:
                return self._fast(record)
            return _INTERPRETER.visit(self._parsed.parsed, record)
        except _EVALUATION_ERRORS as exc:
            raise self.error(index, record, str(exc) or type(exc).__name__) from None

    def error(self, index: int | None, record: Any, reason: str) -> FlowValidationError:
        """An evaluation error for ``record`` (also used by callers that judge the result, e.g. sort keys)."""
        where = f"record {index}" if index is not None else "the record"
        return FlowValidationError(
            f"expression {self.source!r} failed on {where}: {reason}. Record: {_shorten(record)}. Fix the "
            "expression (JMESPath: https://jmespath.org/specification.html) or filter such records out first",
            field=self.field,
            value=self.source,
            details={"record_index": index, "expression": self.source, "reason": reason},
        )


def compile_expression(source: Any, *, field: str = "expression") -> Expression:
    """Compile a JMESPath expression once; a syntax error names the field, the expression and the position."""
    if not isinstance(source, str) or not source.strip():
        raise FlowValidationError(
            f"expected a non-empty JMESPath expression string, got {_shorten(source)}",
            field=field,
            value=source,
        )
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise FlowValidationError(
            f"expression is {len(source)} characters long (limit {MAX_EXPRESSION_LENGTH}); "
            "split the work into several operations",
            field=field,
            value=source[:100] + "...",
        )
    try:
        parsed = jmespath.compile(source)
    except ParseError as exc:
        position = getattr(exc, "lex_position", None)
        token = getattr(exc, "token_value", None)
        if position is None:
            reason = str(exc)
        elif token is None or position >= len(source):
            reason = f"incomplete expression (ends at position {position})"
        else:
            reason = f"syntax error at position {position} (near {token!r})"
        raise FlowValidationError(
            f"invalid JMESPath expression {source!r}: {reason}. Literals are written `1`, `true`, 'text'; "
            'field names with dashes or spaces are quoted: "my-field"',
            field=field,
            value=source,
        ) from None
    except JMESPathError as exc:
        raise FlowValidationError(f"invalid JMESPath expression {source!r}: {exc}", field=field, value=source) from None
    growth = _expansion(parsed.parsed)
    if growth > MAX_EXPANSION:
        raise FlowValidationError(
            f"expression {_shorten(source)} can make a result {growth:,} times larger than its input (limit "
            f"{MAX_EXPANSION:,}): multi-selects ([..], {{..}}) or replace() chained into each other multiply; "
            "split the work into several operations",
            field=field,
            value=source[:100],
        )
    return Expression(source=source, field=field, _parsed=parsed, _fast=_closure(parsed.parsed))


#: ``${expression}`` placeholders and ``$$`` for a literal ``$``. Not ``{{ }}``: prompts pass through Airflow's own
#: Jinja rendering first (``config`` is a template field), where per-record ``{{ text }}`` would be undefined.
_PLACEHOLDER = re.compile(r"\$\$|\$\{([^{}]*)\}")


@dataclass(frozen=True)
class TextTemplate:
    """Text with ``${expr}`` placeholders, each a JMESPath expression evaluated against one record.

    Strings are inserted as they are, other values as compact JSON (``${@}`` inserts the whole record). A
    placeholder that yields null fails naming the record: write ``${note || ''}`` for optional fields.
    """

    source: str
    field: str
    _parts: tuple[str | Expression, ...]

    def render(self, record: Any, *, index: int | None = None) -> str:
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part.search(record, index=index)
            if value is None:
                raise part.error(
                    index,
                    record,
                    f"placeholder ${{{part.source}}} is null or missing; write ${{{part.source} || ''}} if the "
                    "field is optional",
                )
            out.append(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str))
        return "".join(out)


def compile_template(source: Any, *, field: str = "template") -> TextTemplate:
    """Compile every ``${...}`` placeholder once; a bad one names the field and the placeholder."""
    if not isinstance(source, str):
        raise FlowValidationError(f"expected a text template, got {_shorten(source)}", field=field, value=source)
    parts: list[str | Expression] = []
    position = 0
    for match in _PLACEHOLDER.finditer(source):
        parts.append(source[position : match.start()])
        if match.group(0) == "$$":
            parts.append("$")
        else:
            parts.append(compile_expression(match.group(1).strip(), field=field))
        position = match.end()
    parts.append(source[position:])
    return TextTemplate(source=source, field=field, _parts=tuple(p for p in parts if p != ""))


def check_template(source: str) -> str:
    """Pydantic validator helper for text templates (raises ValueError naming the bad placeholder)."""
    try:
        compile_template(source)
    except FlowValidationError as err:
        raise ValueError(err.message.removeprefix("template: ")) from None
    return source


def check_expression(source: str) -> str:
    """Pydantic validator helper: compiles ``source`` and returns it unchanged, raising ValueError if invalid."""
    try:
        compile_expression(source)
    except FlowValidationError as err:
        raise ValueError(err.message.removeprefix("expression: ")) from None
    return source


#: A config field holding a JMESPath expression, compiled when the config is validated (a syntax error or an
#: expression that can blow up its input fails the DAG import, not record 1).
JmesPath = Annotated[str, AfterValidator(check_expression)]

#: A config field holding text with ``${expression}`` placeholders, each compiled like a :data:`JmesPath`.
TemplateText = Annotated[str, AfterValidator(check_template)]

__all__ = [
    "MAX_EXPANSION",
    "MAX_EXPRESSION_LENGTH",
    "Expression",
    "JmesPath",
    "TemplateText",
    "TextTemplate",
    "check_expression",
    "check_template",
    "compile_expression",
    "compile_template",
    "is_truthy",
]
