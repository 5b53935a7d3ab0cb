"""README's quick start is a promise: CI must run exactly its test command."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _quick_start_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", section, re.S)


def test_ci_runs_readme_test_command_verbatim():
    install_and_run, install_and_test = _quick_start_commands()
    assert install_and_run.rstrip().endswith("pycodex")
    assert "pytest" in install_and_test
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert install_and_test.strip() in ci_lines
