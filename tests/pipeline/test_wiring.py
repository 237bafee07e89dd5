"""The pipeline's wiring is data: routing and runtime import no stage handler, topics are declared once."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from newstalk.config import Settings
from newstalk.pipeline import topics
from newstalk.pipeline.stages import STAGE_NAMES, STAGES, all_stages, routes, stage
from newstalk.pipeline.worker import Stage

SRC = Path(__file__).resolve().parents[2] / "src"
PROBE = """
import json, sys
import newstalk.runtime
from newstalk.pipeline.stages import routes
table = routes()
from newstalk.runtime import Services
loaded = sorted(m for m in sys.modules if m.startswith("newstalk."))
print(json.dumps({"loaded": loaded, "topics": sorted(table.by_topic)}))
"""


def _probe(code: str) -> dict[str, list[str]]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p),
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def test_runtime_and_routes_import_no_stage_handler() -> None:
    result = _probe(PROBE)
    handlers = sorted({spec.handler.partition(":")[0] for spec in STAGES})
    loaded = set(result["loaded"])
    assert not [m for m in loaded if m.endswith(".tasks")], "a domain tasks module was imported"
    assert not loaded & set(handlers), "a stage handler module was imported"
    assert result["topics"] == sorted({t for spec in STAGES for t in spec.topics})


def test_building_one_stage_imports_only_its_handler_module() -> None:
    code = PROBE.replace(
        "loaded = sorted",
        "from newstalk.pipeline.stages import stage\nstage('extract', None)\nloaded = sorted",
    )
    loaded = set(_probe(code)["loaded"])
    assert "newstalk.ingestion.tasks" in loaded
    assert not {"newstalk.stories.tasks", "newstalk.factcheck.tasks", "newstalk.speech.tasks"} & loaded


def test_every_stage_resolves_and_keeps_its_settings() -> None:
    settings = Settings(fetch_concurrency=7)
    built = all_stages(settings)
    assert [s.name for s in built] == list(STAGE_NAMES)
    assert all(isinstance(s, Stage) and callable(s.handler) for s in built)
    by_name = {s.name: s for s in built}
    assert by_name["collect"].concurrency == 7
    assert all_stages(None)[0].concurrency == 1
    assert by_name["factcheck"].batch_size == 8
    assert by_name["factcheck"].batch_handler is not None
    assert by_name["speech"].batch_size == 1
    assert by_name["speech"].batch_handler is None
    assert [s.name for s in all_stages(settings, ["live", "collect"])] == ["collect", "live"]
    with pytest.raises(KeyError, match="no stage 'nope'"):
        stage("nope", None)


def test_every_routed_topic_is_declared_and_every_declared_topic_is_read() -> None:
    routed = set(routes().by_topic)
    assert routed == set(topics.ALL_TOPICS)
    # Embeddings are their own stage; stories reads what it stored.
    assert routes().stages_for(topics.ARTICLE_INGESTED) == ("embed", "search")
    assert routes().stages_for(topics.ARTICLE_EMBEDDED) == ("stories", "search")


def test_no_topic_string_is_written_outside_topics_module() -> None:
    """A topic name appears as a string literal only in pipeline/topics.py (docstrings aside)."""
    names = set(topics.ALL_TOPICS)
    offenders: list[str] = []
    for path in (SRC / "newstalk").rglob("*.py"):
        if path.name == "topics.py" and path.parent.name == "pipeline":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in docstrings:
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_the_parse_pool_imports_the_parser_in_its_processes_only() -> None:
    code = PROBE.replace(
        "loaded = sorted",
        "from newstalk.config import Settings\n"
        "from newstalk.runtime import _parse_pool\n"
        "pool = _parse_pool(Settings(parse_processes=1))\n"
        "assert pool is not None and pool.submit(len, 'abc').result(timeout=120) == 3\n"
        "pool.shutdown(wait=True)\n"
        "loaded = sorted",
    )
    assert "newstalk.ingestion.process" not in _probe(code)["loaded"]
