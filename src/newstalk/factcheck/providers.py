"""Verifier providers behind one registry keyed by ``NEWSTALK_VERIFIER_PROVIDER``.

Each provider is one module under ``factcheck/verifiers/`` with a
``build(settings, embeddings) -> Verifier`` function. :data:`VERIFIERS` names it as
``"module:attr"``, so this module imports only the standard library: ``config.py`` validates
the setting against it at start-up without loading a model, and a provider module (with
its numpy, httpx or torch) is imported only when :func:`build_verifier` builds it.

Adding a provider: write ``factcheck/verifiers/<name>.py`` with a ``build`` function and add
one line to :data:`VERIFIERS`.

- ``local`` (default): NewsTalk's own offline model (``verifiers/local.py``).
- ``openai``: any OpenAI-compatible ``/chat/completions`` endpoint (``verifiers/openai.py``).
- ``transformers``: a Hugging Face NLI model folder read with torch (``verifiers/nli.py``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol, cast

from newstalk.errors import ConfigError

if TYPE_CHECKING:
    from newstalk.config import Settings
    from newstalk.factcheck.features import Encoder
    from newstalk.factcheck.verify import Verifier

VERIFIERS: dict[str, str] = {
    "local": "newstalk.factcheck.verifiers.local:build",
    "openai": "newstalk.factcheck.verifiers.openai:build",
    "transformers": "newstalk.factcheck.verifiers.nli:build",
}


class VerifierFactory(Protocol):
    """What a provider module's ``build`` is: settings (and a shared embedder) in, verifier out."""

    def __call__(self, settings: Settings, embeddings: Encoder | None = None) -> Verifier: ...


def known() -> str:
    """The registered provider names as a reader lists them: "local, openai or transformers"."""
    names = list(VERIFIERS)
    return f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]


def factory(name: str) -> VerifierFactory:
    """The ``build`` function of provider ``name``, its module imported now; ConfigError if unknown."""
    target = VERIFIERS.get(name)
    if target is None:
        raise ConfigError(f"factcheck: NEWSTALK_VERIFIER_PROVIDER={name!r} is unknown; use {known()}")
    module, _, attr = target.partition(":")
    return cast(VerifierFactory, getattr(importlib.import_module(module), attr))


def build_verifier(settings: Settings, embeddings: Encoder | None = None) -> Verifier:
    """Build the verifier the settings name; missing settings raise ConfigError at start-up.

    ``embeddings`` lets the local verifier share the caller's (cached) embedding provider.
    """
    return factory(settings.verifier_provider)(settings, embeddings)
