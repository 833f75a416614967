"""Structure the design relies on: one error-kind table, one list of options per mode, explicit
configuration, and no function-level imports in the package beyond the documented few."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

import pytest

from impasto import errors
from impasto.api import mode_options
from impasto.cli.stylize import ENGINE_FLAGS, engine_options
from impasto.errors import JobConflict, JobNotFound
from impasto.service.gallery import StyleExists
from impasto.service.guards.urlfetch import UrlError, UrlTooLarge
from impasto.service.jobs.pictures import ENGINE_FIELDS, JobOptions
from impasto.service.storage.store import BlobNotFound
from impasto.service.workers.distributed import QueueUnavailable
from impasto.web.errors import STATUS, headers_for, status_for

PACKAGE = Path(__file__).resolve().parents[1] / "impasto"
#: (module, imported name): function-level imports kept for optional or slow-to-import stacks
LAZY = {
    ("__init__.py", ""),  # `from . import api`: stylize loads the engines (torch) on first use
    ("cli/stylize.py", "api"),
    ("cli/video.py", "video"),  # PyAV, OpenCV and the engines, loaded by `impasto video` only
    ("cli/gallery.py", ""),
    ("cli/gallery.py", "sheet"),
    ("cli/gallery.py", "service.gallery"),  # the data folder's saved styles (SQLAlchemy), when asked for
    ("gallery/__init__.py", "fast"),  # style vectors need the fast engine (torch); listing does not
    ("cli/weights.py", "quality.backbones"),
    ("cli/weights.py", "quality.downloads"),
    ("cli/worker.py", "torch"),
    ("quality/backbones.py", "onnx"),
    ("fast/weights.py", "onnx"),
    ("cli/serve.py", "uvicorn"),
    ("cli/serve.py", "service"),
    ("cli/serve.py", "service.config"),
    ("cli/serve.py", "web"),
    ("cli/worker.py", "celery"),
    ("cli/worker.py", "service"),
    ("cli/worker.py", "service.workers.celery_app"),
    ("cli/worker.py", "service.config"),
    ("service/runtime.py", "workers.distributed"),
    ("cli/keys.py", "service.identity"),
    ("cli/keys.py", "service.config"),
    ("cli/keys.py", "service.storage.db"),
}


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.OptionsError("bad"), 422),
        (errors.InvalidInput("bad", [{"loc": "x"}]), 422),
        (UrlError("no"), 422),
        (JobNotFound("abc"), 404),
        (BlobNotFound("sha"), 404),
        (JobConflict("finished"), 409),
        (StyleExists("taken"), 409),
        (UrlTooLarge("the picture is larger than 1 MiB"), 413),
        (errors.RateLimited(2.4), 429),
        (QueueUnavailable("down"), 503),
    ],
)
def test_one_table_maps_error_kinds_to_status_codes(exc: errors.ImpastoError, status: int) -> None:
    assert status_for(exc) == status
    assert set(STATUS) == set(errors.ErrorKind)


def test_kinds_that_say_when_to_come_back_set_retry_after() -> None:
    assert headers_for(errors.RateLimited(2.4)) == {"Retry-After": "2"}
    assert headers_for(QueueUnavailable("down")) == {"Retry-After": "5"}
    assert headers_for(errors.OptionsError("bad")) is None
    assert str(JobNotFound("abc")) == "no such job" and str(BlobNotFound("x")) == "no such image"


def test_job_options_follow_the_engines_list_of_options() -> None:
    assert {n for n in ENGINE_FIELDS if n in mode_options("fast")} == {"strength", "brush"}
    quality = JobOptions(mode="quality", strength=0.5, iterations=3)
    assert quality.for_mode().strength is None and quality.for_mode().iterations == 3
    assert "strength" not in quality.engine_kwargs() and quality.engine_kwargs()["iterations"] == 3
    fast = JobOptions(mode="fast", strength=0.5, iterations=3)
    assert fast.engine_kwargs()["strength"] == 0.5 and "iterations" not in fast.engine_kwargs()
    described = JobOptions.model_json_schema()["properties"]
    assert described["strength"]["description"].startswith("fast mode:")
    assert described["iterations"]["description"].startswith("quality mode:")


def test_cli_refuses_options_of_the_other_mode() -> None:
    args = argparse.Namespace(mode="quality", device="auto", precision="auto", save_every=0)
    for name in ENGINE_FLAGS:  # every engine flag left unset
        setattr(args, name, None)
    args.strength = 0.5
    with pytest.raises(errors.OptionsError, match="--strength do"):
        engine_options(args)
    args.mode, args.multiscale = "fast", False
    with pytest.raises(errors.OptionsError, match="--multiscale"):
        engine_options(args)


def _function_level_imports() -> set[tuple[str, str]]:
    found = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                else:
                    continue
                found |= {(str(path.relative_to(PACKAGE)), name) for name in names}
    return found


def test_no_function_level_imports_but_the_documented_ones() -> None:
    found = _function_level_imports()
    assert found <= LAZY, sorted(found - LAZY)


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports_of(path: Path, modules: set[str]) -> set[str]:
    """The package's modules ``path`` imports, anywhere in it (function level and TYPE_CHECKING too)."""
    here = _module_of(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found |= {f"{module}.{a.name}" for a in node.names}  # `from . import jobs`: a module
    return {name for name in found if name in modules}


def test_no_import_cycle_among_the_packages_modules() -> None:
    """Counting function-level and type-checking imports; a package's ``__init__`` importing its own
    children (to register them, or for lazy exports) is not a cycle."""
    paths = {_module_of(p): p for p in PACKAGE.rglob("*.py")}
    graph = {
        name: {t for t in _imports_of(path, set(paths)) if not t.startswith(name + ".") and t != name}
        for name, path in paths.items()
    }
    cycles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    assert cycles == []


def test_environment_variables_are_read_in_two_places_only() -> None:
    """The library's in :mod:`impasto.environment`, the service's in ``Settings.from_env``
    (:mod:`impasto.service.config`); everything else is passed what it needs."""
    readers = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "putenv"):
                readers.add(str(path.relative_to(PACKAGE)))
    assert readers == {"environment.py", "service/config.py"}


def test_the_architecture_page_names_files_that_exist() -> None:
    """docs/architecture.md is the maintainer's map: every module it names is where it says."""
    import re

    page = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"`([\w/]+\.py)", page))
    roots = [PACKAGE, PACKAGE / "service", PACKAGE.parent]
    missing = sorted(p for p in named if not any((root / p).is_file() for root in roots))
    assert len(named) > 20 and missing == []
