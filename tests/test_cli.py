"""The ``stratum`` command's help, version and import cost; install hints."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import stratum
from stratum._extras import DISTRIBUTION, install_hint
from stratum.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
HEAVY = ("skrub", "pandas", "sklearn", "scipy", "lightgbm", "xgboost")


def _python(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = str(Path(stratum.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = where  # the copy of stratum this suite tests
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_help_imports_no_heavy_library():
    out = _python(
        "import sys\n"
        "from stratum.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('loaded:', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    assert "usage: stratum" in out
    assert "``" not in out  # no reStructuredText markup
    assert out.strip().endswith("loaded: []")


def test_importing_skrub_later_still_installs_the_dropin():
    out = _python(
        "import stratum, skrub\n"
        "from skrub._data_ops import _estimator\n"
        "from stratum.frontend.skrub import dropin\n"
        "print(_estimator.ParamSearch.fit is dropin._fit,"
        " skrub.cross_validate is dropin._cross_validate,"
        " callable(stratum.search), stratum.var is skrub.var)\n"
    )
    assert out.split() == ["True", "True", "True", "True"]


def test_star_import_gives_skrubs_names_and_stratums():
    namespace: dict = {}
    exec("from stratum import *", namespace)
    assert namespace["TableVectorizer"] is stratum.TableVectorizer
    assert callable(namespace["search"]) and "Session" in namespace
    assert namespace["set_config"] is stratum.set_config  # stratum's, not skrub's


def test_unknown_names_raise_attribute_error_naming_stratum():
    with pytest.raises(AttributeError, match="'stratum' has no attribute 'nope'"):
        stratum.nope
    assert not hasattr(stratum, "__wrapped__")


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"stratum {stratum.__version__}\n"
    assert stratum.__version__ == PYPROJECT["project"]["version"]


def test_every_command_and_option_has_help():
    parser = build_parser()
    (commands,) = [a for a in parser._actions if a.dest == "command"]
    assert set(commands.choices) >= {"demo", "explain", "bench", "run", "serve"}
    helps = {a.dest: a.help for a in commands._choices_actions}
    for name, sub in commands.choices.items():
        assert helps.get(name), name
        for action in sub._actions:
            assert action.help, f"stratum {name} {action.dest}: no help text"


def test_install_hints_name_our_distribution():
    assert PYPROJECT["project"]["name"] == DISTRIBUTION
    assert set(PYPROJECT["project"]["optional-dependencies"]) >= {
        "ray",
        "serve",
        "mcp",
    }
    assert install_hint("ray").startswith(f'pip install "{DISTRIBUTION}[ray]"')
    # Nowhere does a hint install PyPI's unrelated "stratum" distribution.
    wrong = re.compile(r"""pip install ['"]?stratum(\[|['"\s]|$)""")
    files = [ROOT / "README.md", *ROOT.glob("stratum/**/*.py")]
    files += [*ROOT.glob("benchmarks/*")]
    offenders = [
        f"{path.relative_to(ROOT)}: {line.strip()}"
        for path in files
        if path.is_file()
        for line in path.read_text(errors="replace").splitlines()
        if wrong.search(line)
    ]
    assert offenders == []


def test_bench_without_the_models_says_how_to_install_them(monkeypatch, capsys):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "xgboost" else find_spec(name, *a),
    )
    assert main(["bench", "W1", "--quick"]) == 2
    message = capsys.readouterr().err
    assert "need xgboost" in message and install_hint("models") in message
