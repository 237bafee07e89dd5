"""Replay a labelled stream of articles through the running service and score what the API returns."""
