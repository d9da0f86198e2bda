"""``@weir.flow``: a Python function whose body wires tasks into a static graph."""

from __future__ import annotations

import hashlib
import inspect
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weir.errors import FlowDefinitionError, ParamsError, WeirError
from weir.graph.build import build_graph
from weir.graph.model import Graph
from weir.graph.policy import Hook, callables, seconds, tag_list
from weir.sdk.task import _NAME, Task, TaskCall, _location_of
from weir.sdk.trace import ParamRef, Tracer

if TYPE_CHECKING:
    from weir.runs import Run


#: Param types bound without pydantic when a value already has the type.
_PLAIN: frozenset[Any] = frozenset({int, float, str, bool, list, dict, object, Any, inspect.Parameter.empty})


class Flow:
    """A named workflow. Create with :func:`flow`; run with :meth:`run`."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str,
        schedule: Any = None,
        tags: tuple[str, ...] = (),
        description: str | None = None,
        timeout: float | None = None,
        on_success: tuple[Hook, ...] = (),
        on_failure: tuple[Hook, ...] = (),
        schedule_spec: Any = None,
    ) -> None:
        self.schedule_spec = schedule_spec
        self.fn = fn
        self.name = name
        self.schedule = schedule
        self.tags = tags
        self.timeout = timeout
        self.on_success = on_success
        self.on_failure = on_failure
        self.description = description if description is not None else inspect.getdoc(fn)
        self.location = _location_of(fn)
        self.signature = inspect.signature(fn)
        for param in self.signature.parameters.values():
            if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise FlowDefinitionError(
                    f"{self.location}: flow {name!r}: params must be named; *{param.name} is not allowed"
                )
            if param.kind is inspect.Parameter.POSITIONAL_ONLY:
                raise FlowDefinitionError(
                    f"{self.location}: flow {name!r}: param {param.name!r} must not be positional-only"
                )

    def __repr__(self) -> str:
        return f"<weir.flow {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise WeirError(
            f"flow {self.name!r} is not called directly: use {self.name}.run(**params) to run it "
            "(recorded), or call its tasks as plain functions in a unit test"
        )

    @property
    def graph(self) -> Graph:
        """The flow's graph, traced from its body on first use.

        Raises:
            FlowDefinitionError: the body is not a valid flow; the message names the file and line.
        """
        return self._traced[0]

    @property
    def tasks(self) -> dict[str, Task]:
        """The task behind each node of the graph, by task id."""
        return self._traced[1]

    def __getstate__(self) -> dict[str, Any]:
        # Derived values are rebuilt where the flow is unpickled (a worker process).
        state = dict(self.__dict__)
        for derived in ("_traced", "params_model", "version", "_plain_types"):
            state.pop(derived, None)
        return state

    @cached_property
    def _traced(self) -> tuple[Graph, dict[str, Task]]:
        params = tuple(self.signature.parameters)
        with Tracer(self.name) as tracer:
            refs = {p: ParamRef(tracer, p) for p in params}
            try:
                returned = self.fn(**refs)
            except WeirError:
                raise
            except Exception as exc:
                raise FlowDefinitionError(
                    f"{_user_frame(exc, self.location)}: tracing flow {self.name!r} raised "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if isinstance(returned, Task | TaskCall):
                raise FlowDefinitionError(
                    f"{self.location}: flow {self.name!r} returns the task {returned!r} itself; "
                    "call it to return its result"
                )
            output = tracer.template(returned, self.location)
        graph = build_graph(
            self.name, tracer.nodes(), output=output, params=params, order_locations=tracer.order_locations
        )
        return graph, dict(tracer.tasks)

    @cached_property
    def version(self) -> str:
        """A hash of the flow's source file (or of its function when the file cannot be read)."""
        digest = hashlib.sha256(self.name.encode())
        source_file = inspect.getsourcefile(self.fn)
        try:
            digest.update(Path(source_file).read_bytes() if source_file else b"")
        except OSError:
            digest.update(self.fn.__code__.co_code)
        return digest.hexdigest()[:16]

    @cached_property
    def params_model(self) -> Any:
        """A pydantic model of the params, built from the signature's annotations and defaults."""
        import typing

        import pydantic

        try:  # string annotations (from __future__ import annotations) become real types
            hints = typing.get_type_hints(self.fn, include_extras=True)
        except Exception:
            hints = {}
        fields: dict[str, Any] = {}
        for param in self.signature.parameters.values():
            annotation = hints.get(param.name, param.annotation)
            annotation = Any if annotation is inspect.Parameter.empty else annotation
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[param.name] = (annotation, default)
        return pydantic.create_model(
            f"{self.name}_params",
            __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True),
            **fields,
        )

    def validate_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate ``params`` and return them with defaults filled in, as Python values.

        Raises:
            ParamsError: naming each param that is missing, unknown or of the wrong type.
        """
        plain = self._bind_plain(params)
        if plain is not None:
            return plain
        import pydantic

        try:
            model = self.params_model.model_validate(dict(params))
        except pydantic.ValidationError as exc:
            problems = []
            for err in exc.errors():
                name = ".".join(str(part) for part in err["loc"]) or "params"
                reason = "not a param of this flow" if err["type"] == "extra_forbidden" else err["msg"]
                problems.append((name, reason))
            raise ParamsError(self.name, problems) from None
        return {name: getattr(model, name) for name in self.signature.parameters}

    @cached_property
    def _plain_types(self) -> dict[str, Any] | None:
        """Each param's type when every one is a plain JSON type (or unannotated), else None."""
        import typing

        try:
            hints = typing.get_type_hints(self.fn)
        except Exception:
            return None
        found = {}
        for name, param in self.signature.parameters.items():
            kind = hints.get(name, param.annotation)
            if kind not in _PLAIN:
                return None
            found[name] = kind
        return found

    def _bind_plain(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """Params bound without pydantic when they already have their types (the usual case in a
        worker: JSON values of plain types); None when pydantic must decide."""
        types = self._plain_types
        if types is None or any(name not in types for name in params):
            return None
        bound: dict[str, Any] = {}
        for name, param in self.signature.parameters.items():
            if name not in params:
                if param.default is inspect.Parameter.empty:
                    return None
                bound[name] = param.default
                continue
            value, kind = params[name], types[name]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            elif (kind in (int, float) and isinstance(value, bool)) or (
                kind not in (Any, object, inspect.Parameter.empty) and not isinstance(value, kind)
            ):
                return None
            bound[name] = value
        return bound

    def params_json(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Validated params as JSON-able values, for the store."""
        return self.params_model.model_validate(dict(values)).model_dump(mode="json")

    def run(self, *, executor: str | None = None, logical_date: datetime | None = None, **params: Any) -> Run:
        """Create a recorded run with ``params`` and execute it to the end on ``executor``.

        Args:
            executor: ``inline`` or ``local`` (default: the ``WEIR_EXECUTOR`` setting, else ``local``).
            logical_date: the run's logical date (aware), as a scheduled or backfilled run of
                that date would have it: for a flow on a time schedule its data interval is the
                schedule's interval that holds it. Default: as a run made by hand now.
            params: the flow's params; validated before anything is written.

        Returns:
            the finished :class:`~weir.runs.Run`; its ``state`` says how it ended.

        Raises:
            ParamsError: invalid params (nothing is recorded).
            FlowDefinitionError: the flow body is not a valid flow.
        """
        from weir.runs import run_flow

        return run_flow(self, params, executor=executor, logical_date=logical_date)


def _user_frame(exc: BaseException, fallback: str) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if "/weir/sdk/" not in frame.filename and "/weir/graph/" not in frame.filename:
            return f"{frame.filename}:{frame.lineno}"
    return fallback


def flow(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    schedule: Any = None,
    tags: Sequence[str] = (),
    description: str | None = None,
    timeout: float | timedelta | None = None,
    on_success: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
    on_failure: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
    tz: str | None = None,
    start: datetime | date | str | None = None,
    end: datetime | date | str | None = None,
    catchup: bool = False,
    max_active_runs: int = 16,
    paused: bool = False,
) -> Any:
    """Make a function a weir flow, with or without arguments.

    Args:
        name: the flow's name (default: the function's name).
        schedule: when runs are created (stored now; the scheduler gives it meaning).
        tags: labels for filtering.
        description: shown in the CLI and UI (default: the docstring).
        timeout: seconds (or a timedelta) a run may take; then its remaining tasks are
            cancelled and the run fails with the reason "timed out".
        on_success, on_failure: a callable (or a list) called with a
            :class:`~weir.sdk.context.CallbackContext` when a run ends so; for example a
            notifier from :mod:`weir.notify`.
        tz: the IANA time zone of cron strings (default UTC).
        start, end: the first and last logical dates scheduled (a date, a datetime or an ISO string).
        catchup: create the runs of intervals missed while no scheduler ran (default False).
        max_active_runs: runs of this flow a driver takes at once, whatever made them (default
            16, as in Airflow); the others wait queued.
        paused: the schedule's state when the flow is first registered.

    Raises:
        FlowDefinitionError: a bad option (an invalid cron string, an unknown time zone, ``start``
            after ``end``, ...), naming the flow, the field and the line.

    The body is traced once, on first use, into a static graph: task calls return
    references, and references passed as arguments become edges.
    """

    def wrap(func: Callable[..., Any]) -> Flow:
        if not callable(func):
            raise FlowDefinitionError(f"@weir.flow decorates a function, not {func!r}")
        flow_name = name or func.__name__
        if not _NAME.fullmatch(flow_name):
            raise FlowDefinitionError(
                f"{_location_of(func)}: flow name {flow_name!r} may hold only letters, digits, _ . and -"
            )
        try:
            flow_tags = tag_list(tags)
            flow_timeout = None if timeout is None else seconds("timeout", timeout, allow_zero=False)
            success = tuple(Hook.of(fn) for fn in callables("on_success", on_success))
            failure = tuple(Hook.of(fn) for fn in callables("on_failure", on_failure))
        except ValueError as exc:
            raise FlowDefinitionError(f"{_location_of(func)}: flow {flow_name!r}: {exc}") from None
        spec = None
        if schedule is not None or start is not None or end is not None or paused or catchup:
            from weir.schedules import parse_spec

            try:
                spec = parse_spec(
                    schedule,
                    tz=tz,
                    start=start,
                    end=end,
                    catchup=catchup,
                    max_active_runs=max_active_runs,
                    paused=paused,
                )
            except FlowDefinitionError as exc:
                raise FlowDefinitionError(f"{_location_of(func)}: flow {flow_name!r}: {exc}") from None
        return Flow(
            func,
            name=flow_name,
            schedule_spec=spec,
            schedule=schedule,
            tags=flow_tags,
            description=description,
            timeout=flow_timeout,
            on_success=success,
            on_failure=failure,
        )

    if fn is not None:
        return wrap(fn)
    return wrap
