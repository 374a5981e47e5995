"""``stratum run``: unmodified scripts, their searches answered in shared batches.

Every script's output under ``run_scripts`` is compared with its output under
plain ``python`` (plain skrub: the scripts never import stratum), the fits of
the shared step are counted across processes (a transformer that appends to a
file), and a crashing and a hanging script must not disturb the others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from stratum.agents import run_scripts
from stratum.agents.runner import script_names
from stratum.cli import main as cli_main
from stratum.plan.keys import encode_params

N_ROWS = 442  # sklearn's diabetes data set
TIMEOUT = 10.0

COUNTING = '''
import json
import os
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin


class CountingScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardizes columns; appends the number of rows of each fit to a file."""

    def __init__(self, log=None):
        self.log = log

    def fit(self, X, y=None):
        with open(self.log, "a") as f:
            f.write(f"{len(X)}\\n")
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = X.columns.to_numpy(dtype=object)
        self.mean_ = X.mean()
        self.scale_ = X.std()
        return self

    def transform(self, X):
        return (X - self.mean_) / self.scale_
'''

PREAMBLE = """
import skrub
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from counting import CountingScaler

FACTOR = {factor}


def add_feature(X):
    return X.assign(bmi_bp=X["bmi"] * X["bp"] * FACTOR)


df = load_diabetes(as_frame=True).frame
data = skrub.var("data", df)
X = data.drop(columns="target").skb.mark_as_X()
y = data["target"].skb.mark_as_y()
scaled = X.skb.apply(CountingScaler(log={log!r}))
features = scaled.skb.apply_func(add_feature)
"""

GRID = """
alpha = skrub.choose_float(0.01, 100.0, log=True, n_steps=4, name="alpha")
pred = features.skb.apply(Ridge(alpha=alpha), y=y)
search = pred.skb.make_grid_search(cv=3, fitted=True)
print(search.results_.to_string())
print(repr(search.best_score_), search.best_params_)
print(search.best_learner_.predict({"data": df.iloc[:5]}).tolist())
"""

RANDOM = """
pred = features.skb.apply(
    Ridge(alpha=skrub.choose_float(0.01, 100.0, log=True, name="alpha")), y=y
)
search = pred.skb.make_randomized_search(
    cv=3, n_iter=3, random_state=0, fitted=True, refit=False
)
print(search.results_.to_string())
print(search.cv_results_["mean_test_score"].tolist())
"""

CROSS_VALIDATE = """
pred = features.skb.apply(Ridge(alpha=1.0), y=y)
scores = pred.skb.cross_validate(cv=3, return_train_score=True)
print(scores[["test_score", "train_score"]].to_string())
print(scores["test_score"].tolist())
"""

TWICE = """
import skrub
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

df = load_diabetes(as_frame=True).frame
data = skrub.var("data", df)
X = data.drop(columns="target").skb.mark_as_X()
y = data["target"].skb.mark_as_y()
scaled = X.skb.apply(StandardScaler())
first = scaled.skb.apply(
    Ridge(alpha=skrub.choose_from([0.1, 1.0, 10.0], name="alpha")), y=y
)
stage1 = first.skb.make_grid_search(cv=4, fitted=True, refit=False)
best = float(stage1.results_.iloc[0]["alpha"])
print("stage 1:", best, stage1.cv_results_["mean_test_score"].tolist())
second = scaled.skb.apply(
    Ridge(alpha=skrub.choose_from([best / 2, best, best * 2], name="alpha")), y=y
)
stage2 = second.skb.make_grid_search(cv=4, fitted=True, refit=False)
print("stage 2:", stage2.cv_results_["mean_test_score"].tolist())
"""

CRASH = """
import skrub
print("about to fail")
raise ValueError("this script fails on purpose")
"""

HANG = """
import time
print("waiting forever", flush=True)
time.sleep(10_000)
"""


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)  # plain skrub: stratum is not even importable
    return env


def _plain(path: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, os.path.basename(path)],
        cwd=os.path.dirname(path),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    root = tmp_path_factory.mktemp("agents")
    plain_dir, run_dir = root / "plain", root / "run"
    scripts = {
        "grid": PREAMBLE.format(factor=2, log="{log}") + GRID,
        "randomized": PREAMBLE.format(factor=3, log="{log}") + RANDOM,
        "cv": PREAMBLE.format(factor=2, log="{log}") + CROSS_VALIDATE,
        "twice": TWICE,
        "crash": CRASH,
        "hang": HANG,
    }
    paths = {}
    for folder in (plain_dir, run_dir):
        folder.mkdir()
        (folder / "counting.py").write_text(COUNTING)
        for name, text in scripts.items():
            path = folder / f"{name}.py"
            path.write_text(text.replace("{log}", str(folder / "fits.log")))
            paths[folder, name] = str(path)
    sharing = ["grid", "randomized", "cv", "twice"]
    order = ["grid", "crash", "randomized", "hang", "cv", "twice"]
    path_before = list(sys.path)
    # The plain runs go on while the batch waits for the hanging script.
    with ThreadPoolExecutor(2) as pool:
        plain_runs = pool.map(_plain, [paths[plain_dir, n] for n in sharing])
        results = run_scripts(
            [paths[run_dir, n] for n in order],
            n_jobs=1,
            timeout=TIMEOUT,
            out=root / "out",
        )
        plain = dict(zip(sharing, plain_runs))
    return {
        "plain": plain,
        "results": {r.name: r for r in results},
        "order": [r.name for r in results],
        "fits": {d: _fits(d / "fits.log") for d in (plain_dir, run_dir)},
        "dirs": (plain_dir, run_dir),
        "out": root / "out",
        "path_restored": sys.path == path_before,
        "helper_forgotten": "counting" not in sys.modules,
    }


def _fits(log) -> Counter:
    """Fits on cross-validation folds (not the preview on all rows), by size."""
    sizes = [int(v) for v in log.read_text().split()] if log.exists() else []
    return Counter(s for s in sizes if s < N_ROWS)


def test_output_equals_plain_python(scenario):
    for name, plain in scenario["plain"].items():
        assert plain.returncode == 0, plain.stderr
        got = scenario["results"][name]
        assert got.status == "ok", got.stderr
        assert got.exit_code == 0
        assert got.stdout == plain.stdout, name


def test_results_in_order_with_statuses(scenario):
    assert scenario["order"] == ["grid", "crash", "randomized", "hang", "cv", "twice"]
    results = scenario["results"]
    crash, hang = results["crash"], results["hang"]
    assert crash.status == "error" and crash.exit_code == 1
    assert crash.stdout == "about to fail\n"
    assert crash.stderr.rstrip().endswith("ValueError: this script fails on purpose")
    assert 'File "' + str(scenario["dirs"][1] / "crash.py") in crash.stderr
    assert "stratum" not in crash.stderr  # the traceback is the script's own
    assert hang.status == "timeout" and hang.exit_code == -9
    assert hang.stdout == "waiting forever\n"
    assert hang.wall_seconds >= TIMEOUT
    assert crash.requests == hang.requests == 0
    assert not crash.batches and not hang.batches


def test_shared_fit_happens_once_per_fold(scenario):
    plain_dir, run_dir = scenario["dirs"]
    plain, run = scenario["fits"][plain_dir], scenario["fits"][run_dir]
    # Alone, each of the three scripts fits the scaler on each of 3 folds
    # per candidate (skrub refits the whole pipeline for every candidate).
    assert sum(plain.values()) == 4 * 3 + 3 * 3 + 3
    # Batched: once per fold for all three scripts.
    assert run == Counter({294: 1, 295: 2})
    (batch,) = {
        id(b): b
        for n in ("grid", "randomized", "cv")
        for b in scenario["results"][n].batches
    }.values()
    assert batch.fits < batch.fits_requested
    assert batch.tasks < batch.tasks_requested


def test_a_script_asking_twice_joins_two_batches(scenario):
    results = scenario["results"]
    twice = results["twice"]
    assert twice.requests == 2
    assert [b.number for b in twice.batches] == [1, 2]
    first = twice.batches[0]
    assert set(first.scripts) == {"grid", "randomized", "cv", "twice"}
    assert twice.batches[1].scripts == ["twice"]
    assert twice.batches[1].reused > 0  # the scaler's folds, from batch 1
    for name in ("grid", "randomized", "cv"):
        assert results[name].requests == 1
        assert [b.number for b in results[name].batches] == [1]
        assert results[name].local == []


def test_coordinator_forgets_the_scripts_modules(scenario):
    # The fits ran here, importing the scripts' helper module; a later run
    # may bring another module of the same name.
    assert scenario["path_restored"]
    assert scenario["helper_forgotten"]


def test_out_directory(scenario):
    out = scenario["out"]
    for name, result in scenario["results"].items():
        assert (out / name / "stdout").read_text() == result.stdout
        assert (out / name / "stderr").read_text() == result.stderr
        assert (out / name / "exit_code").read_text() == f"{result.exit_code}\n"


def test_cli_run(tmp_path, capsys):
    script = tmp_path / "hello.py"
    script.write_text("import skrub\nprint('hello', 6 * 7)\n")
    other = tmp_path / "bad.py"
    other.write_text("import sys\nsys.exit(3)\n")
    # Each script a new interpreter (the scenario above uses the launcher).
    argv = ["run", str(script), str(other), "--out", str(tmp_path / "o")]
    code = cli_main(argv + ["--no-preload", "--timeout", "120"])
    printed = capsys.readouterr().out
    assert code == 1  # one script did not exit with 0
    assert "[hello] hello 42" in printed
    assert (tmp_path / "o" / "bad" / "exit_code").read_text() == "3\n"
    assert (tmp_path / "o" / "summary.json").exists()
    assert "bad" in printed and "error" in printed


def test_script_names(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("print(1)\n")
    named = script_names([str(a), "print(2)\n", a], str(tmp_path))
    assert [n for n, _ in named] == ["a", "script_1", "a_2"]
    assert open(named[1][1]).read() == "print(2)\n"
    named = script_names({"x": "print(3)\n"}, str(tmp_path))
    assert named == [("x", str(tmp_path / "x.py"))]
    with pytest.raises(FileNotFoundError, match="no script"):
        script_names([str(tmp_path / "missing.py")], str(tmp_path))


def _script_function(factor: int):
    """``add_feature`` as a script's ``__main__`` defines it, over its globals."""
    namespace = {"__name__": "__main__", "FACTOR": factor}
    exec(
        textwrap.dedent(
            """
            def add_feature(X):
                return X * FACTOR
            """
        ),
        namespace,
    )
    return namespace["add_feature"]


def _script_class(scale: int):
    namespace = {"__name__": "__main__"}
    exec(
        textwrap.dedent(
            f"""
            class Scale:
                def fit(self, X):
                    return self
                def get_params(self, deep=True):
                    return {{}}
                def transform(self, X):
                    return X * {scale}
            """
        ),
        namespace,
    )
    return namespace["Scale"]


def test_keys_of_script_code_depend_on_its_definition():
    def key(obj):
        return encode_params(obj)[0]

    assert key(_script_function(2)) == key(_script_function(2))
    assert key(_script_function(2)) != key(_script_function(3))
    assert key(_script_class(2)()) == key(_script_class(2)())
    assert key(_script_class(2)()) != key(_script_class(3)())
    assert isinstance(_script_function(2), types.FunctionType)


def test_forked_scripts_get_fresh_random_state():
    # As new interpreters would: the launcher's numpy state is not inherited.
    text = "import sys, numpy as np\nprint(np.random.random(), sys.argv[0])\n"
    results = run_scripts({"r1": text, "r2": text}, timeout=120)
    assert [r.status for r in results] == ["ok", "ok"]
    first, second = (r.stdout.split() for r in results)
    assert first[0] != second[0]
    assert first[1].endswith("r1.py") and second[1].endswith("r2.py")


STREAMS_SCRIPT = """import sys
print("héllo ✓", repr(sys.stdin.read()))
print("to stderr ✓", file=sys.stderr)
print(sys.stdout.write_through, sys.stderr.errors)
"""

RUN_AND_REPORT = """
import json, sys, threading
import stratum.agents.launcher as launcher
from stratum.agents import run_scripts

forked = []
init = launcher.Launcher.__init__
def record(self, *args):
    init(self, *args)
    forked.append(self.forked)
launcher.Launcher.__init__ = record
if sys.argv[2] == "thread":
    stop = threading.Event()
    threading.Thread(target=stop.wait).start()
(result,) = run_scripts({"s": open(sys.argv[1]).read()}, timeout=120)
if sys.argv[2] == "thread":
    stop.set()
print(json.dumps([forked, result.stdout, result.stderr]))
"""


@pytest.mark.parametrize("threads", ["none", "thread"])
def test_scripts_see_plain_pythons_streams_whichever_launcher(tmp_path, threads):
    """A coordinator with no other thread forks its launcher (sharing its
    imports); one running a thread starts a new interpreter. Either way a
    script's standard streams are those ``python -u`` gives it: not the
    coordinator's (whose ``sys.stdout`` a test runner replaces)."""
    path = tmp_path / "streams.py"
    path.write_text(STREAMS_SCRIPT, encoding="utf-8")
    env = dict(_env(), PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    plain = subprocess.run(
        [sys.executable, str(path)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert plain.returncode == 0, plain.stderr
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_REPORT, str(path), threads],
        env=dict(env, PYTHONPATH=os.path.dirname(os.path.dirname(__file__))),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    forked, stdout, stderr = json.loads(done.stdout.splitlines()[-1])
    assert forked == [threads == "none"]
    assert stdout == plain.stdout == "héllo ✓ ''\nTrue backslashreplace\n"
    assert stderr == plain.stderr == "to stderr ✓\n"


SKLEARN_SCRIPT = """
import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

rng = np.random.default_rng(0)
X = pd.DataFrame(rng.normal(size=(200, 4)), columns=list("abcd"))
y = X["a"] * 2 + rng.normal(size=200)
pipeline = make_pipeline(StandardScaler(), Ridge())
search = GridSearchCV(pipeline, {"ridge__alpha": [0.1, 1, 10]}, cv=4).fit(X, y)
print(repr(search.cv_results_["mean_test_score"].tolist()), search.best_params_)
print(repr(cross_val_score(Ridge(), X, y, cv=3).tolist()))
print("stratum:", "stratum" in GridSearchCV.fit.__code__.co_filename, file=sys.stderr)
"""


def test_sklearn_searches_in_scripts_run_on_stratum(tmp_path):
    """Inside ``stratum run``, a script's GridSearchCV and cross_val_score run
    on stratum's engine and print what they print with ``python``."""
    path = tmp_path / "plain.py"
    path.write_text(SKLEARN_SCRIPT)
    plain = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=300
    )
    assert plain.returncode == 0, plain.stderr
    (result,) = run_scripts({"s": SKLEARN_SCRIPT}, timeout=300)
    assert result.status == "ok", result.stderr
    assert result.stdout == plain.stdout
    assert "stratum: False" in plain.stderr
    assert "stratum: True" in result.stderr


# -- what the launcher imports, and what stratum's own modules import ---------------

IMPORTS = """
import numpy as np
import pandas as pd
from sklearn.model_selection import KFold
from sklearn import metrics, preprocessing as pre
from sklearn.metrics import mean_squared_error
from .local import thing
import json, lightgbm

def later():
    import scipy.sparse
"""


def test_the_launcher_imports_what_the_scripts_import(tmp_path):
    from stratum.agents.launcher import scripts_modules

    first, second, broken = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    first.write_text(IMPORTS)
    second.write_text(
        "import skrub\nfrom sklearn.model_selection import GridSearchCV\n"
    )
    broken.write_text("import xgboost\ndef broken(:\n")
    assert scripts_modules([str(first)]) == [
        "numpy",
        "pandas",
        "sklearn.model_selection",
        "sklearn",
        "sklearn.metrics",
        "sklearn.preprocessing",
        "lightgbm",
        "scipy.sparse",
    ]
    assert scripts_modules([str(second), str(broken), str(tmp_path / "none.py")]) == [
        "skrub",
        "sklearn.model_selection",
        "stratum.frontend.sklearn.searches",
        "stratum.frontend.sklearn.cross_validation",
        "stratum.batch_search",
    ]


WHAT_IS_IMPORTED = """
import importlib
import sys
from sklearn.linear_model import Ridge
print([m for m in ("skrub", "xgboost", "stratum.batch_search") if m in sys.modules])
importlib.import_module("skrub")  # (a name the launcher cannot see)
print("skrub" in sys.modules)
"""


def test_a_script_that_does_not_import_skrub_runs_without_it(tmp_path):
    """Neither the launcher nor stratum's side of a script imports skrub,
    XGBoost or stratum's engine for a plain scikit-learn script (their pages
    would be the scripts' memory for nothing); importing skrub later works."""
    path = tmp_path / "plain.py"
    path.write_text(WHAT_IS_IMPORTED)
    plain = _plain(str(path))
    assert plain.returncode == 0, plain.stderr
    # (a coordinator of its own: this one has imported skrub)
    done = subprocess.run(
        [sys.executable, "-m", "stratum", "run", str(path), "--quiet"]
        + ["--out", str(tmp_path / "out")],
        env=dict(_env(), PYTHONPATH=os.path.dirname(os.path.dirname(__file__))),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    stdout = (tmp_path / "out" / "plain" / "stdout").read_text()
    assert stdout == plain.stdout == "[]\nTrue\n"


def test_stratums_own_modules_do_not_import_skrub(tmp_path):
    code = (
        "import sys\n"
        "import stratum.agents.child, stratum.frontend.sklearn.memoize\n"
        "import stratum.agents.runner, stratum.plan.hashing, stratum.runtime.cache\n"
        "try:\n"
        "    from stratum import _native\n"
        "except ImportError:\n"
        "    pass\n"
        "from stratum.session import Session\n"
        "Session()\n"
        "stratum.runtime.cache.DiskCache(sys.argv[1])\n"
        "print('skrub' in sys.modules)\n"
        "import stratum\n"
        "print(stratum.TableVectorizer.__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "False\nskrub._table_vectorizer\n"


def test_messages_carry_large_byte_strings_as_they_are():
    from stratum.agents import protocol

    big = bytes(range(256)) * 4096  # 1 MiB
    messages = [
        {"type": "memo_put", "payload": big, "label": "é", "seconds": 0.5},
        {"type": "x", "small": b"\x00" * 10, "none": None},
        {"type": "two", "a": big[:70_000], "b": big, "c": bytearray(b"ab")},
        {},
    ]
    read, write = os.pipe()
    with os.fdopen(write, "wb") as out:
        writer = ThreadPoolExecutor(1).submit(
            lambda: [protocol.send(out, m) for m in messages]
        )
        with os.fdopen(read, "rb") as stream:
            received = [protocol.receive(stream) for _ in messages]
        writer.result(timeout=60)
    assert received == messages


def test_after_import_runs_every_callback_in_order(tmp_path, monkeypatch):
    from stratum._skrub_hook import after_import

    (tmp_path / "hooked_module_x.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    calls = []
    after_import("hooked_module_x", lambda: calls.append("first"))
    after_import("hooked_module_x", lambda: calls.append("second"))
    assert calls == []
    import hooked_module_x  # noqa: F401

    assert calls == ["first", "second"]
    after_import("hooked_module_x", lambda: calls.append("now"))
    assert calls == ["first", "second", "now"]
    sys.modules.pop("hooked_module_x")
