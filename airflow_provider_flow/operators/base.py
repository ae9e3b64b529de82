"""The one place where a runtime meets Airflow.

``FlowNodeOperator`` renders templates (Airflow does that for ``config`` and ``data``), validates the config,
builds the :class:`ExecutionState` from the task context, runs the runtime and returns its output as XCom.
Failures are translated here exactly once:

* a retryable :class:`FlowError` (429/5xx/408, timeouts, dropped connections) raises
  :class:`RetryableFlowFailure`, an ``AirflowException``: Airflow retries the task under its ``retries``;
* any other :class:`FlowError` raises ``AirflowFailException``: the task fails at once, no retry wasted;
* anything else propagates unchanged.

Secrets: the values of a node's ``headers`` named in its ``sensitive_headers`` are registered with Airflow's masker
as soon as templates are rendered, so the rendered fields Airflow stores (and every log line) show ``***``; and
the XCom this operator pushes, and the text of its failures, are scrubbed of every secret value the hooks read
(every connection header, password and token) and of those node headers, in every encoding. Records written to a
file are the API's data as received and are not scrubbed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from airflow_provider_flow.airflow_compat import (
    HAS_RETRY_POLICY,
    AirflowException,
    AirflowFailException,
    ResolveMixin,
)
from airflow_provider_flow.core.config import holds_template as _holds_template
from airflow_provider_flow.core.config import validate_config, validate_static_config
from airflow_provider_flow.core.registry import RuntimeRegistry, registry
from airflow_provider_flow.core.runtime import RuntimeResult
from airflow_provider_flow.errors import FlowError, FlowValidationError, PathTraversalError
from airflow_provider_flow.hooks.connections import known_secrets, register_secrets
from airflow_provider_flow.operators.arguments import check_operator_arguments
from airflow_provider_flow.operators.incremental import (
    add_watermark_inlet,
    add_watermark_to_context,
    committed_watermark_for,
)
from airflow_provider_flow.operators.lineage import FlowLineageMixin
from airflow_provider_flow.operators.retry_policy import FlowRetryPolicy
from airflow_provider_flow.redaction import SecretScrubber

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_flow.core.state import ExecutionState, KeyValueStore

_NOT_SET: Any = object()


class RetryableFlowFailure(AirflowException):
    """Raised for a retryable flow error: Airflow retries the task; ``flow_error`` is the original."""

    def __init__(self, message: str, flow_error: FlowError) -> None:
        super().__init__(message)
        self.flow_error = flow_error

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.flow_error))


def holds_template(value: Any) -> bool:
    """True when a value is only known at run time: a Jinja string or an XComArg, anywhere inside it."""
    return _holds_template(value, deferred_types=(ResolveMixin,))


def config_from(model: type[BaseModel], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """A typed operator's ``config``: its keyword arguments that name a field of ``model`` (by alias or name).

    Typed operators pass ``locals()``; values left at None are dropped so the model's defaults apply. The model is
    the one source of truth for names, types and defaults; ``tests/operators/test_operator_signatures.py`` fails
    when an operator's keywords drift from it.
    """
    config: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        value = arguments.get(key, arguments.get(name))
        if value is not None:
            config[key] = value
    return config


def config_field(model: type[BaseModel], name: str) -> tuple[str, FieldInfo] | None:
    """The config key and field that ``name`` (a field name or alias) refers to, or None."""
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return info.alias or field_name, info
    return None


def _map_index(ti: Any) -> int:
    value = getattr(ti, "map_index", None)
    return -1 if value is None else int(value)


def sensitive_header_values(config: Mapping[str, Any]) -> list[str]:
    """Values of the config's ``headers`` that its ``sensitive_headers`` names (case-insensitively)."""
    headers, names = config.get("headers"), config.get("sensitive_headers")
    if not isinstance(headers, Mapping) or not isinstance(names, (list, tuple)):
        return []
    wanted = {str(name).lower() for name in names}
    return [str(value) for name, value in headers.items() if str(name).lower() in wanted and value]


def task_store_from(context: Mapping[str, Any]) -> KeyValueStore:
    """:func:`.task_state.task_store_from`, imported when a task runs: its fallback store brings storage and the
    codecs, which a DAG file parse does not need."""
    from airflow_provider_flow.operators.task_state import task_store_from as store_from

    return store_from(context)


def _plain(value: Any) -> Any:
    """Output as XCom can store it: pydantic models dumped to JSON-shaped data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class FlowNodeOperator(FlowLineageMixin, BaseOperator):
    """Run any registered runtime as an Airflow task.

    :param runtime: registry name of the runtime, e.g. ``"http.source"``.
    :param config: the runtime's config (templated). Keys without templates are validated when the DAG is
        parsed, so a misspelled key fails the DAG import instead of the run.
    :param data: the runtime's input (templated), typically an upstream task's ``.output``.
    :param retry_policy: defaults to :class:`FlowRetryPolicy` on Airflow >= 3.3; pass ``None`` to use
        Airflow's plain ``retries``/``retry_delay`` behaviour.

    Config values are attributes, as on any Airflow operator: ``op.endpoint`` is ``op.config["endpoint"]``
    (rendered at run time, like every templated field), or the model's default when the DAG did not set it, and
    ``op.endpoint = "/v2"`` (in a cluster policy, say) writes ``op.config["endpoint"]``: ``config`` stays the one
    place a value is stored, and it is validated at run time like any other. Names Airflow itself uses on every
    operator (``params``, ``output``, ``retries``) keep Airflow's meaning; reach those config keys through
    ``op.config``.
    """

    template_fields: Sequence[str] = ("config", "data")
    template_fields_renderers = {"config": "json", "data": "json"}
    ui_color = "#e8f4ff"

    #: Registry used to look runtimes up; tests may point a subclass at their own.
    runtime_registry: RuntimeRegistry = registry

    def __init__(
        self,
        *,
        runtime: str,
        config: dict[str, Any] | None = None,
        data: Any = None,
        retry_policy: Any = _NOT_SET,
        **kwargs: Any,
    ) -> None:
        # before BaseOperator's generic "Invalid arguments were passed": name the typo and the closest keyword
        check_operator_arguments(type(self), FlowNodeOperator, kwargs)
        if HAS_RETRY_POLICY:
            kwargs["retry_policy"] = FlowRetryPolicy() if retry_policy is _NOT_SET else retry_policy
        elif retry_policy not in (_NOT_SET, None):
            raise FlowValidationError(
                "needs Airflow >= 3.3; errors are still translated without it, so drop retry_policy",
                field="retry_policy",
                value=repr(retry_policy),
            )
        super().__init__(**kwargs)
        self.runtime = runtime
        self.config = dict(config or {})
        self.data = data
        self._check_at_parse_time()
        add_watermark_inlet(self, self.config)  # issue 14: an incremental source reads its watermark asset

    def __getattr__(self, name: str) -> Any:
        """Config values as attributes (see the class docstring); reached only when normal lookup fails."""
        found = self._config_field(name)
        if found is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        key, info = found
        config = self.__dict__["config"]
        return config[key] if key in config else info.get_default(call_default_factory=True)

    def __setattr__(self, name: str, value: Any) -> None:
        """Assigning a config field writes ``config``, so the attribute can never shadow what the runtime gets."""
        if name not in self.__dict__ and not hasattr(type(self), name):
            found = self._config_field(name)
            if found is not None:
                self.__dict__["config"][found[0]] = value
                return
        super().__setattr__(name, value)

    def _config_field(self, name: str) -> tuple[str, FieldInfo] | None:
        """The config key and model field an attribute name stands for, once ``config`` and ``runtime`` exist."""
        config, runtime = self.__dict__.get("config"), self.__dict__.get("runtime")
        if name.startswith("_") or not isinstance(config, dict) or not isinstance(runtime, str):
            return None
        try:
            model = self.runtime_registry.get(runtime).config_model
        except FlowValidationError:
            return None
        return config_field(model, name)

    def _check_at_parse_time(self) -> None:
        """Fail the DAG import for what is already wrong: an unknown runtime, a bad non-templated value."""
        where = f"task {self.task_id!r}"
        try:
            runtime = self.runtime_registry.get(self.runtime)
        except FlowValidationError as err:
            raise FlowValidationError(f"{where}: {err.message}", field="runtime", value=self.runtime) from None
        validate_static_config(
            runtime.config_model, self.config, context=f"{where} ({self.runtime})", deferred_types=(ResolveMixin,)
        )

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render as Airflow does, then mask the sensitive header values before Airflow stores the rendered
        fields: a header filled from a Variable with an innocent name would be kept in clear otherwise."""
        add_watermark_to_context(self, self.config, context)  # issue 14: {{ flow_watermark }}
        super().render_template_fields(context, jinja_env)
        if isinstance(self.config, Mapping):
            register_secrets(sensitive_header_values(self.config))

    def execute(self, context: Context) -> Any:
        state = self.build_state(context)
        try:
            runtime = self.runtime_registry.get(self.runtime)
            config = validate_config(runtime.config_model, self.config, context=f"task {self.task_id!r}")
            output = runtime.execute(config, self.data, state)
        except FlowError as err:
            raise self.translate_error(err, state) from err
        self.remember_for_lineage(output)
        scrub = self.secret_scrubber()
        if isinstance(output, RuntimeResult):
            for key, value in output.extra_xcom.items():
                context["ti"].xcom_push(key=key, value=scrub.data(_plain(value)))
            output = output.value
        return scrub.data(_plain(output))

    def secret_scrubber(self) -> SecretScrubber:
        """Every secret this task's process knows (connections read by the hooks, sensitive node headers): an API
        echoing a request header in a 2xx body must not put the credential into XCom."""
        config = self.config if isinstance(self.config, Mapping) else {}
        return SecretScrubber([*known_secrets(), *sensitive_header_values(config)])

    def build_state(self, context: Context) -> ExecutionState:
        # Imported at run time: a DAG file parse needs neither (the task store pulls in storage and codecs).
        from airflow_provider_flow.core.state import ExecutionState
        from airflow_provider_flow.hooks.settings import AirflowSettingsProvider

        ti = context["ti"]
        deadline = None
        if self.execution_timeout is not None:
            deadline = time.monotonic() + self.execution_timeout.total_seconds()
        params = context.get("params") or {}
        return ExecutionState(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            map_index=_map_index(ti),
            try_number=int(ti.try_number or 1),
            max_tries=int(getattr(ti, "max_tries", self.retries or 0) or 0),
            logical_date=context.get("logical_date"),
            params=dict(params),
            log=self.log,
            deadline=deadline,
            settings=AirflowSettingsProvider(),
            task_store=task_store_from(context),
            committed_watermark=committed_watermark_for(self, self.config, context),  # an incremental source's
        )

    def translate_error(self, err: FlowError, state: ExecutionState) -> BaseException:
        """Map a flow error onto Airflow's retry semantics; the single place this decision is made."""
        attempt = f"try {state.try_number} of {state.max_tries + 1}"
        text = self.secret_scrubber().text(str(err))  # the runtimes scrub too; this is the last net
        if err.is_retryable:
            if state.try_number <= state.max_tries:
                self.log.warning("Retryable failure on %s (%s); Airflow will retry: %s", attempt, err.code, text)
            else:
                self.log.error("Retryable failure on %s, the last one (%s): %s", attempt, err.code, text)
            return RetryableFlowFailure(f"{err.code}: {text}", err)
        if isinstance(err, PathTraversalError):
            self.log.error("Refused path %r outside base %r: %s", err.requested_path, err.base, err.reason)
        self.log.error("Non-retryable failure on %s (%s); failing without retry: %s", attempt, err.code, text)
        return AirflowFailException(f"{err.code}: {text}")
