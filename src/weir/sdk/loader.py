"""Loading flow files: ``FILE.py`` or ``FILE.py:FLOW``, with errors that name the file and line."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType

from weir.errors import FlowDefinitionError, FlowLoadError, WeirError
from weir.sdk.flow import Flow


def load_file(path: str | Path) -> ModuleType:
    """Import the flow file at ``path`` (once per process per file content) and return its module.

    The module gets a private name, so a ``if __name__ == "__main__":`` block does not run.

    Raises:
        FlowLoadError: the file is missing or raises while importing (the message names the line).
        FlowDefinitionError: a flow or task in it is defined wrongly.
    """
    file = Path(path).resolve()
    if not file.is_file():
        raise FlowLoadError(f"{path}: no such file")
    digest = hashlib.sha256(str(file).encode()).hexdigest()[:10]
    name = f"weir_flows.{file.stem}_{digest}"
    existing = sys.modules.get(name)
    if existing is not None and getattr(existing, "__weir_mtime__", None) == file.stat().st_mtime_ns:
        return existing
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise FlowLoadError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    # weir's own markers on the module object, which ModuleType does not declare.
    module.__weir_flow_file__ = str(file)  # type: ignore[attr-defined]
    module.__weir_mtime__ = file.stat().st_mtime_ns  # type: ignore[attr-defined]
    sys.modules[name] = module
    parent = str(file.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)  # sibling modules of the flow file import as usual
    try:
        spec.loader.exec_module(module)
    except WeirError:
        sys.modules.pop(name, None)
        raise
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        raise FlowLoadError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from None
    except BaseException as exc:
        sys.modules.pop(name, None)
        line = _line_in(exc, file)
        raise FlowLoadError(
            f"{file}:{line}: importing the flow file raised {type(exc).__name__}: {exc}"
        ) from None
    return module


def _line_in(exc: BaseException, file: Path) -> int | str:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename) == file:
            return frame.lineno or "?"
    return "?"


def flows_in(module: ModuleType) -> list[Flow]:
    """The flows a module defines, in definition order."""
    return [value for value in vars(module).values() if isinstance(value, Flow)]


def load_flow(target: str) -> Flow:
    """The flow named by ``FILE.py:FLOW`` (or ``FILE.py`` when it defines exactly one flow), traced.

    Raises:
        FlowLoadError: no such file, no such flow, or the file does not import.
        FlowDefinitionError: the flow is not valid (cycle, bad reference, ...).
    """
    path, _, name = target.partition(":")
    if not path.endswith(".py"):
        raise FlowLoadError(f"{target!r}: expected FILE.py:FLOW, for example examples/hello.py:hello")
    module = load_file(path)
    flows = flows_in(module)
    if not name:
        if len(flows) != 1:
            names = ", ".join(f.name for f in flows) or "none"
            raise FlowLoadError(f"{path} defines {len(flows)} flows ({names}): name one as {path}:FLOW")
        flow = flows[0]
    else:
        matches = [f for f in flows if f.name == name]
        if not matches:
            names = ", ".join(f.name for f in flows) or "none"
            raise FlowLoadError(f"{path} has no flow named {name!r} (it has: {names})")
        flow = matches[0]
    try:
        flow.graph  # noqa: B018 - trace now, so definition errors surface at load time
    except FlowDefinitionError:
        raise
    return flow
