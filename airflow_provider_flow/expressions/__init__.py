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

Size is bounded twice: when compiling, by what the text can multiply (:data:`MAX_EXPANSION`), and when evaluating,
by what the data makes it build (:data:`MAX_RESULT_SIZE` characters per evaluation, checked *before* a function
builds its result), so ``join(t, split(t, ''))`` on a large field fails at once with a FlowValidationError naming
the field, the expression and the limit instead of exhausting the worker's memory.

:func:`compile_template` builds prompt-style text with ``${expression}`` placeholders over the same language
(used by ``ai.transform``), so a prompt can never reach Python either.

Truthiness (used by ``filter``) follows JMESPath: ``false``, ``null``, ``""``, ``[]`` and ``{}`` are false,
everything else (including ``0``) is true. ``<``, ``<=``, ``>``, ``>=`` order two numbers or two strings; any
other pair (null, booleans, arrays) gives null, and a number against a string fails the record.

Layout: :mod:`.compiled` (compile and evaluate one expression), :mod:`.templates` (``${...}`` text),
:mod:`.functions` (what expressions may call), :mod:`.budget` (the run-time size bound), :mod:`.growth` (the
compile-time one), :mod:`.fast` (closures for the common expressions, with jmespath's exact semantics), :mod:`.inline`
(the simplest forms written into a generated per-record loop, for ``transform``).
"""

from __future__ import annotations

from airflow_provider_flow.expressions.budget import MAX_RESULT_SIZE
from airflow_provider_flow.expressions.compiled import (
    MAX_EXPRESSION_LENGTH,
    Expression,
    JmesPath,
    check_expression,
    compile_expression,
)
from airflow_provider_flow.expressions.fast import is_truthy
from airflow_provider_flow.expressions.functions import OPTIONS as _OPTIONS
from airflow_provider_flow.expressions.growth import MAX_EXPANSION
from airflow_provider_flow.expressions.templates import TemplateText, TextTemplate, check_template, compile_template

__all__ = [
    "MAX_EXPANSION",
    "MAX_EXPRESSION_LENGTH",
    "MAX_RESULT_SIZE",
    "_OPTIONS",
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
