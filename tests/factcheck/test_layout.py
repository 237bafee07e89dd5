"""The fact-check package layout holds: the service never loads training code, config loads no provider.

Checked in a fresh interpreter, because this test process has imported everything already.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import newstalk.factcheck
import newstalk.training.factcheck
from newstalk.errors import ConfigError
from newstalk.factcheck.providers import VERIFIERS, factory

SERVICE_MODULES = (
    "newstalk.main",
    "newstalk.cli",
    "newstalk.pipeline.stages",
    "newstalk.factcheck.tasks",
    "newstalk.factcheck.service",
    "newstalk.factcheck.endpoints",
    "newstalk.factcheck.verifiers.local",
    "newstalk.factcheck.verifiers.openai",
    "newstalk.factcheck.verifiers.nli",
)


def loaded_after(modules: tuple[str, ...]) -> list[str]:
    """The module names a fresh interpreter holds after importing ``modules``."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(modules)!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names: list[str] = json.loads(out.stdout)
    return names


def test_the_service_and_the_factcheck_stage_import_no_training_code() -> None:
    loaded = loaded_after(SERVICE_MODULES)
    assert "newstalk.factcheck.tasks" in loaded
    assert [m for m in loaded if m.startswith("newstalk.training")] == []


def test_config_reads_the_registry_without_loading_a_provider() -> None:
    loaded = loaded_after(("newstalk.config",))
    assert "newstalk.factcheck.providers" in loaded
    assert [
        m for m in loaded if m.startswith("newstalk.factcheck.") and m != "newstalk.factcheck.providers"
    ] == []


@pytest.mark.parametrize("name", sorted(VERIFIERS))
def test_every_registered_provider_resolves_to_a_build_function(name: str) -> None:
    module, _, attr = VERIFIERS[name].partition(":")
    assert factory(name) is getattr(importlib.import_module(module), attr)


def test_an_unregistered_provider_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match="NEWSTALK_VERIFIER_PROVIDER='nope' is unknown; use local, openai or transformers"
    ):
        factory("nope")


def test_no_factcheck_module_is_over_600_lines() -> None:
    roots = [Path(newstalk.factcheck.__file__).parent, Path(newstalk.training.factcheck.__file__).parent]
    lengths = {
        str(p): len(p.read_text(encoding="utf-8").splitlines()) for r in roots for p in r.rglob("*.py")
    }
    assert {p: n for p, n in lengths.items() if n > 600} == {}
