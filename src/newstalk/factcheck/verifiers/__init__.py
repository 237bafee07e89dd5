"""Verifier providers, one module each; ``factcheck/providers.py`` is the registry that names them.

Nothing is imported here, so importing one provider never loads another's dependencies.
"""
