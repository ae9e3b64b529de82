"""Compiling one expression and evaluating it against records, with errors that name the field and record."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

import jmespath
from jmespath.exceptions import JMESPathError, ParseError
from pydantic import AfterValidator

from airflow_provider_flow.core.jsontext import nesting_error
from airflow_provider_flow.errors import FlowValidationError, NestingTooDeepError
from airflow_provider_flow.expressions import budget
from airflow_provider_flow.expressions.budget import MAX_RESULT_SIZE, ResultTooLarge
from airflow_provider_flow.expressions.fast import Evaluator, compile_fast, field_key
from airflow_provider_flow.expressions.functions import CHARGING, INTERPRETER
from airflow_provider_flow.expressions.growth import MAX_EXPANSION, MEASURED_GROWTH, calls, expansion

#: Longest accepted expression: a guard against pasted payloads, far above any real expression.
MAX_EXPRESSION_LENGTH = 4000

#: Errors a pure expression can raise while evaluating against one record (jmespath 1.x raises a plain
#: TypeError for e.g. ``'a' > `1```).
_EVALUATION_ERRORS = (JMESPathError, TypeError, ValueError, ArithmeticError, KeyError, IndexError, AttributeError)


def shorten(value: Any, limit: int = 120) -> str:
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


@dataclass(frozen=True)
class Expression:
    """A compiled expression and where it came from (for error messages)."""

    source: str
    field: str
    _parsed: Any
    _fast: Evaluator | None = None
    _calls_functions: bool = True
    """Whether a function may charge the budget (without one, starting the budget per search is skipped)."""
    _measure_result: bool = True
    """Whether the result can be much larger than the input (many multi-selects), so its size is measured."""

    def search(self, record: Any, *, index: int | None = None, limit: int = MAX_RESULT_SIZE) -> Any:
        """Evaluate against one record; a failure raises FlowValidationError naming the record and the reason.

        ``limit`` bounds what the evaluation may build, in characters of JSON (:mod:`.budget`).
        """
        try:
            if self._calls_functions:
                budget.start(limit)
            result = self._fast(record) if self._fast is not None else INTERPRETER.visit(self._parsed.parsed, record)
            if self._measure_result:
                budget.json_size(result, limit, "its result")
            return result
        except ResultTooLarge as exc:
            raise self.too_large(index, exc) from None
        except RecursionError:  # data nested too deeply to walk (compared, serialized by to_string, ...)
            raise self.nesting_error(index) from None
        except _EVALUATION_ERRORS as exc:
            raise self.error(index, record, str(exc) or type(exc).__name__) from None

    def evaluator(self) -> Evaluator:
        """The cheapest callable giving :meth:`search`'s result for one record, for loops over many records.

        It adds no error handling: when it raises, call :meth:`search` on the same record, which fails the same
        way (evaluation is pure) with the error naming the record. Expressions that need the budget or a measured
        result get :meth:`search` itself.
        """
        if self._calls_functions or self._measure_result:
            return self.search
        if self._fast is not None:
            return self._fast
        parsed, visit = self._parsed.parsed, INTERPRETER.visit
        return lambda record: visit(parsed, record)

    def plain_field(self) -> str | None:
        """The key when the whole expression is one field name (``city``), which callers may read directly."""
        return field_key(self._parsed.parsed)

    def to_json(self, value: Any, index: int | None) -> str:
        """``value`` (a result of this expression) as compact JSON text, e.g. to insert it into a template."""
        try:
            return json.dumps(value, ensure_ascii=False, default=str)
        except RecursionError:
            raise self.nesting_error(index) from None

    def nesting_error(self, index: int | None) -> NestingTooDeepError:
        """The error for a record (or value) nested too deeply to walk."""
        where = f"record {index}" if index is not None else "the input"
        return nesting_error(f"{where} of expression {self.source!r} ({self.field})")

    def too_large(self, index: int | None, exc: ResultTooLarge) -> FlowValidationError:
        """The error for an evaluation that would build more than its budget."""
        where = f"record {index}" if index is not None else "its input"
        return FlowValidationError(
            f"expression {self.source!r} would build {exc} on {where}, over the limit of {exc.limit:,} characters "
            "one evaluation may build: the data makes it grow (join() or replace() inserting a field into itself, "
            "many copies of a large field). Fix the expression, or shorten the input first",
            field=self.field,
            value=self.source,
            details={"record_index": index, "expression": self.source, "limit": exc.limit},
        )

    def error(self, index: int | None, record: Any, reason: str) -> FlowValidationError:
        """An evaluation error for ``record`` (also used by callers that judge the result, e.g. sort keys)."""
        where = f"record {index}" if index is not None else "the record"
        return FlowValidationError(
            f"expression {self.source!r} failed on {where}: {reason}. Record: {shorten(record)}. Fix the "
            "expression (JMESPath: https://jmespath.org/specification.html) or filter such records out first",
            field=self.field,
            value=self.source,
            details={"record_index": index, "expression": self.source, "reason": reason},
        )


def compile_expression(source: Any, *, field: str = "expression") -> Expression:
    """Compile a JMESPath expression once; a syntax error names the field, the expression and the position."""
    try:
        return _compile(source, field)
    except RecursionError:  # jmespath's parser and the checks here recurse once per nesting level
        raise FlowValidationError(
            f"expression {shorten(source)} nests too deeply to compile (hundreds of levels of !, &&, ( or "
            "function calls inside each other); split the work into several operations",
            field=field,
            value=source[:100] if isinstance(source, str) else source,
        ) from None


def _compile(source: Any, field: str) -> Expression:
    if not isinstance(source, str) or not source.strip():
        raise FlowValidationError(
            f"expected a non-empty JMESPath expression string, got {shorten(source)}",
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
        number = bare_number_hint(source, position) if str(getattr(exc, "token_type", "")).lower() == "number" else None
        raise FlowValidationError(
            f"invalid JMESPath expression {source!r}: "
            + (
                number
                or f"{reason}. Literals are written `1`, `true`, 'text'; "
                'field names with dashes or spaces are quoted: "my-field"'
            ),
            field=field,
            value=source,
        ) from None
    except JMESPathError as exc:
        raise FlowValidationError(f"invalid JMESPath expression {source!r}: {exc}", field=field, value=source) from None
    growth = expansion(parsed.parsed)
    if growth > MAX_EXPANSION:
        raise FlowValidationError(
            f"expression {shorten(source)} can make a result {growth:,} times larger than its input (limit "
            f"{MAX_EXPANSION:,}): multi-selects ([..], {{..}}) or replace() chained into each other multiply; "
            "split the work into several operations",
            field=field,
            value=source[:100],
        )
    return Expression(
        source=source,
        field=field,
        _parsed=parsed,
        _fast=_fast_or_none(parsed.parsed),
        _calls_functions=calls(parsed.parsed, CHARGING),
        _measure_result=growth > MEASURED_GROWTH,
    )


def _fast_or_none(parsed: Any) -> Evaluator | None:
    """The fast path's closures, or None (the interpreter) for an expression nested too deeply to build them."""
    try:
        return compile_fast(parsed)
    except RecursionError:
        return None


#: A number as JMESPath's lexer reads one (``20``, ``-3``, ``1.5``, ``2e3``).
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")


def bare_number_hint(source: str, position: int | None) -> str | None:
    """The fix for a bare number where a value belongs (``temp_c > 20``), or None when that is not the mistake.

    A first JMESPath filter almost always compares with a plain number; JMESPath reads ``20`` only as a literal
    in backticks, and its own error ("syntax error near 20") does not say so. ``foo.1`` (a field named "1") is a
    different mistake and keeps the general message.
    """
    found = _NUMBER.match(source, position) if position is not None else None
    if found is None or source[:position].rstrip().endswith((".", "[")):
        return None
    literal = f"`{found.group()}`"
    fixed = source[: found.start()] + literal + source[found.end() :]
    return f"numbers need backticks in JMESPath: {literal} (write {fixed!r})"


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
