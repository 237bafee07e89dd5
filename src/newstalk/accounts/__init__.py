"""Accounts: users and roles, passwords, JWT sessions with rotating refresh tokens, API keys."""
