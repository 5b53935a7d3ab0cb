"""pycodex: reproduce the Codex paper's HumanEval evaluation with local models."""

__version__ = "0.1.0"
