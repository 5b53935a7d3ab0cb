"""The Typer CLI. Command modules import heavy things inside their functions so --help stays fast."""
