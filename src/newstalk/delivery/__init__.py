"""Delivery: audio files over HTTP, on-demand voice, private podcast feeds."""
