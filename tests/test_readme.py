"""The README's command-line and Python examples for the `jaxlr` command run as written."""

import re
import shlex
import shutil

import pytest
from helpers import ROOT

from jaxlr._cli import main

SECTION = "## The `jaxlr` command"


def _blocks(language):
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end >= 0 else len(text)]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def _commands():
    for block in _blocks("bash"):
        for line in block.splitlines():
            if line.startswith("jaxlr "):
                command, _, comment = line.partition("#")
                match = re.search(r"exits with code (\d+)", comment)
                yield shlex.split(command)[1:], int(match.group(1)) if match else 0


@pytest.fixture
def in_a_copy(tmp_path, monkeypatch):
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "example.csv", tmp_path / "docs" / "example.csv")
    monkeypatch.chdir(tmp_path)
    return tmp_path


COMMANDS = list(_commands())


def test_the_readme_has_examples():
    assert len(COMMANDS) >= 5 and any(argv[0] == "sweep" for argv, _ in COMMANDS)
    assert len(_blocks("python")) >= 1


@pytest.mark.parametrize("argv, expected_code", COMMANDS, ids=[" ".join(argv) for argv, _ in COMMANDS])
def test_readme_command(in_a_copy, capsys, argv, expected_code):
    if "diabetes" in argv:
        pytest.importorskip("sklearn")
    if argv[0] == "predict":  # its model comes from the README's fit --save-model of that file
        (fit,) = [a for a, _ in COMMANDS if "--save-model" in a and a[a.index("--save-model") + 1] == argv[1]]
        assert main(fit) == 0, capsys.readouterr()
    assert main(argv) == expected_code, capsys.readouterr()
    for option in ("--json", "--plot", "--save-model", "--out"):
        if option in argv and expected_code == 0:
            assert (in_a_copy / argv[argv.index(option) + 1]).stat().st_size > 0


def test_readme_python(in_a_copy, capsys):
    for block in _blocks("python"):
        exec(compile(block, "README.md", "exec"), {})
    assert "diverged; bound 2/L" in capsys.readouterr().out
    assert (in_a_copy / "sweep.png").exists() and (in_a_copy / "fit.png").exists()


def _crosscheck_commands():
    text = (ROOT / "README.md").read_text()
    for line in text.splitlines():
        if "-m jaxlr.crosscheck" not in line:
            continue
        words = shlex.split(line.partition("#")[0])
        if words[1:3] == ["-m", "jaxlr.crosscheck"] and len(words) > 3:
            yield words[3:]


def test_readme_crosscheck_commands(in_a_copy, capsys):
    pytest.importorskip("torch")
    from jaxlr._cli_crosscheck import main as crosscheck

    commands = list(_crosscheck_commands())
    assert commands, "the README's cross-check section has no command with options"
    for argv in commands:
        assert "float64" not in argv and "both" not in argv  # x64 would leak into the other tests
        assert crosscheck(argv) == 0, capsys.readouterr().out
        assert "FAILED" not in capsys.readouterr().out
