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
    for csv in (ROOT / "docs").glob("*.csv"):
        shutil.copy(csv, tmp_path / "docs" / csv.name)
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


# --------------------------------------------------------------------------- printed outputs

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _shown_outputs():
    """(argv, expected code, the lines the README shows) for each command followed by its printed output."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION)
    section = text[start : text.find("\n## ", start + len(SECTION))]
    pairs = re.findall(r"```bash\n(jaxlr [^\n]*)\n```\n\n```text\n(.*?)```", section, flags=re.S)
    for line, shown in pairs:
        command, _, comment = line.partition("#")
        match = re.search(r"exits with code (\d+)", comment)
        yield shlex.split(command)[1:], int(match.group(1)) if match else 0, shown.splitlines()


def _same_up_to_rounding(shown, printed):
    """Text equal; each number within the rounding of the digits shown, or, when both are below 1e-4,
    rounding noise (gaps and errors of float32 arithmetic, which vary in their last bits)."""
    if _NUMBER.split(shown) != _NUMBER.split(printed):
        return False
    for a_text, b_text in zip(_NUMBER.findall(shown), _NUMBER.findall(printed), strict=True):
        a, b = float(a_text), float(b_text)
        digits = len(re.sub(r"[eE].*|[-+.]", "", a_text).lstrip("0")) or 1
        if abs(a) < 1e-4 and abs(b) < 1e-4:
            continue
        if abs(a - b) > 10.0 ** (1 - digits) * max(abs(a), abs(b)):  # a unit in the last shown digit
            return False
    return True


SHOWN = list(_shown_outputs())


def test_the_readme_shows_outputs():
    assert len(SHOWN) >= 2 and any(code != 0 for _, code, _ in SHOWN)
    assert _same_up_to_rounding("loss 181.21886 gap 5.69e-07", "loss 181.21887 gap 1.2e-06")
    assert not _same_up_to_rounding("loss 181.21886", "loss 181.21986")  # off in the 7th digit of 8 shown
    assert not _same_up_to_rounding("rooms 8.86", "room 8.86")


@pytest.mark.parametrize("argv, expected_code, shown", SHOWN, ids=[" ".join(argv) for argv, _, _ in SHOWN])
def test_readme_output_is_what_the_command_prints(in_a_copy, capsys, argv, expected_code, shown):
    assert main(argv) == expected_code
    captured = capsys.readouterr()
    printed = (captured.out if expected_code == 0 else captured.err).strip().splitlines()
    assert len(printed) == len(shown), "\n".join(printed)
    for shown_line, printed_line in zip(shown, printed, strict=True):
        assert _same_up_to_rounding(shown_line, printed_line), f"README:  {shown_line}\nprinted: {printed_line}"


# --------------------------------------------------------------------------- the other Python blocks


def _other_python_blocks():
    """Every Python block outside the `jaxlr` command's section; the multi-host one runs in test_distributed.py."""
    section = set(_blocks("python"))
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    return [b for b in blocks if b not in section and "initialize_distributed" not in b]


OTHER_PYTHON = _other_python_blocks()


def test_every_python_block_is_run_somewhere():
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    multi_host = [b for b in blocks if "initialize_distributed" in b]
    assert len(OTHER_PYTHON) + len(_blocks("python")) + len(multi_host) == len(blocks) and len(multi_host) == 1


@pytest.mark.parametrize("block", OTHER_PYTHON, ids=[b.splitlines()[0][:40] for b in OTHER_PYTHON])
def test_readme_python_block_runs(in_a_copy, capsys, block):
    exec(compile(block, "README.md", "exec"), {})


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
    from jaxlr._cli_lesson import crosscheck_main as crosscheck

    commands = list(_crosscheck_commands())
    assert commands, "the README's cross-check section has no command with options"
    for argv in commands:
        assert "float64" not in argv and "both" not in argv  # x64 would leak into the other tests
        assert crosscheck(argv) == 0, capsys.readouterr().out
        assert "FAILED" not in capsys.readouterr().out
