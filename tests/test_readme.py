"""The README's code runs as written, so what a new user copies works."""

import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def test_the_readme_python_example_runs(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert blocks, "the README should show how to use avgkit"
    monkeypatch.chdir(tmp_path)  # the example writes sqlite:///avg.db relative to here
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)  # noqa: S102 - our own README
    kit = namespace["kit"]
    assert kit.may_process("cust-1042", "newsletter").allowed
    assert "# " in capsys.readouterr().out
    kit.close()


def test_the_readme_gives_exactly_the_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text
    assert "make test" in text
