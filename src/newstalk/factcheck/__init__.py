"""Fact-checking: claims in articles, evidence from other outlets, verdicts with the evidence behind them."""
