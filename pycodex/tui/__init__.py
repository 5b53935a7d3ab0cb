"""The Textual app: a thin skin over the core pipeline (see docs/tui.md)."""
