"""Implementation registry: where a kernel replaces the user's estimator, where
it does not and why, and what stats/explain report.

The kernels here are test doubles that subclass scikit-learn classes (stratum's
own kernels have their own differential tests); they let these tests check
the selection mechanics and that a substituted step computes the same scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skrub
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

import stratum
from stratum.lower import registry as R

pytestmark = pytest.mark.stratum_only


class KernelScaler(StandardScaler):
    """A StandardScaler "kernel": the reference's arithmetic, counted, and
    handing inputs with NaN back to the reference, as real kernels do."""

    reference = StandardScaler
    fits = 0

    @classmethod
    def unsupported(cls, estimator):
        if not estimator.with_mean:
            return "with_mean=False"
        return None

    def fit(self, X, y=None, sample_weight=None):
        type(self).fits += 1
        nan = np.isnan(np.asarray(X, dtype=float)).any()
        self.stratum_impl_ = "reference: input has NaN" if nan else "native"
        return super().fit(X, y, sample_weight)


class UserScaler(StandardScaler):
    """A user's subclass: may behave differently, never replaced."""


@pytest.fixture
def registry(monkeypatch):
    reg = R.Registry([KernelScaler])
    monkeypatch.setattr(R, "_default", reg)
    KernelScaler.fits = 0
    return reg


def test_select_replaces_exact_class_and_keeps_params(registry):
    ref = StandardScaler(with_std=False)
    new, choices = registry.select(ref)
    assert type(new) is KernelScaler
    assert new.get_params() == ref.get_params()
    assert type(ref) is StandardScaler  # the argument is not modified
    assert [str(c) for c in choices] == ["StandardScaler: native"]


def test_select_reports_unsupported_parameters(registry):
    ref = StandardScaler(with_mean=False)
    new, choices = registry.select(ref)
    assert new is ref
    assert choices == [
        R.Selection("StandardScaler", "StandardScaler", R.REFERENCE, "with_mean=False")
    ]
    assert R.describe(choices) == "StandardScaler: reference (with_mean=False)"


def test_select_leaves_subclasses_and_unregistered_classes(registry):
    for est in (UserScaler(), MinMaxScaler(), Ridge()):
        new, choices = registry.select(est)
        assert new is est and choices == []
    assert R.describe([]) == R.REFERENCE


def test_select_recurses_into_nested_estimators(registry):
    pipe = make_pipeline(MinMaxScaler(), StandardScaler(), Ridge(alpha=3.0))
    new, choices = registry.select(pipe)
    assert [type(s) for _, s in new.steps] == [MinMaxScaler, KernelScaler, Ridge]
    assert [type(s) for _, s in pipe.steps] == [MinMaxScaler, StandardScaler, Ridge]
    assert [c.path for c in choices] == ["Pipeline.steps[standardscaler]"]
    tv = skrub.TableVectorizer(numeric=StandardScaler())
    new_tv, choices = registry.select(tv)
    assert type(new_tv.numeric) is KernelScaler
    assert type(tv.numeric) is StandardScaler
    assert choices[0].path == "TableVectorizer.numeric"


def test_ran_collects_kernel_reports_from_fitted_steps(registry):
    X = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 7.0]])
    pipe = Pipeline([("s", KernelScaler())]).fit(X)
    assert R.ran(pipe) == ["KernelScaler: reference: input has NaN"]
    assert (
        R.describe([R.Selection("p", "StandardScaler", R.NATIVE)], R.ran(pipe))
        == "KernelScaler: reference: input has NaN"
    )


def test_register_rejects_classes_that_do_not_subclass_their_reference():
    class Bad:
        reference = StandardScaler

    with pytest.raises(TypeError, match="must subclass"):
        R.Registry([Bad])


def _data(n=60, nan=False):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n) * 10})
    if nan:
        df.loc[::7, "b"] = np.nan
    y = df["a"] * 2 - df["b"].fillna(0) * 0.1 + rng.normal(size=n) * 0.01
    return df, y


def _pipeline(df, y, scaler):
    X = skrub.X(df)
    yv = skrub.y(y)
    X = X.skb.apply(skrub.TableVectorizer(numeric=scaler))
    from sklearn.impute import SimpleImputer

    X = X.skb.apply(SimpleImputer())
    return X.skb.apply(Ridge(alpha=skrub.choose_from([0.1, 10.0], name="alpha")), y=yv)


def _stratum_scores(pred, **options):
    res = stratum.search({"p": pred}, cv=3, scoring="r2", refit=False, **options)
    return res, res.results_.sort_values("params", key=lambda s: s.astype(str))


def test_substituted_step_gives_skrub_scores_and_is_reported(registry):
    df, y = _data()
    res, rows = _stratum_scores(_pipeline(df, y, StandardScaler()))
    # TableVectorizer fits one scaler per numeric column: 2 columns x 3 folds,
    # shared by both alphas.
    assert KernelScaler.fits == 6
    with stratum.config_context(engine="skrub"):
        ref = _pipeline(df, y, StandardScaler()).skb.make_grid_search(
            cv=3, scoring="r2", fitted=True
        )
    want = sorted(ref.results_["mean_test_score"])
    np.testing.assert_allclose(sorted(rows["mean_test_score"]), want, rtol=1e-12)
    impl = res.stats_.set_index("label")["implementation"]
    tv = [v for k, v in impl.items() if "TableVectorizer" in k]
    assert tv and set(tv) == {R.NATIVE}
    assert "implementations (estimator steps):" in res.explain()


def test_native_false_keeps_the_users_objects(registry):
    df, y = _data()
    with stratum.config_context(native=False):
        res, rows = _stratum_scores(_pipeline(df, y, StandardScaler()))
    assert KernelScaler.fits == 0
    # The Ridge alphas still share X^T X (model_sharing is its own switch),
    # through scikit-learn's own code on the user's objects.
    impl = {i for i in res.stats_["implementation"] if not i.startswith("gram:")}
    assert impl <= {R.REFERENCE, "scorer"}


def test_runtime_fallback_is_reported(registry):
    df, y = _data(nan=True)
    res, _ = _stratum_scores(_pipeline(df, y, StandardScaler()))
    impl = set(res.stats_["implementation"])
    assert any("input has NaN" in v for v in impl), impl


def test_explain_before_fitting_shows_planned_implementations(registry):
    df, y = _data()
    pipelines = {
        "a": _pipeline(df, y, StandardScaler()),
        "b": _pipeline(df, y, StandardScaler(with_mean=False)),
    }
    text = stratum.explain(pipelines, cv=3)
    assert "implementations (estimator steps, planned):" in text
    assert "TableVectorizer.numeric: reference (with_mean=False)" in text
    assert ": native" in text
    assert KernelScaler.fits == 0
    with stratum.config_context(native=False):
        assert "native kernels disabled" in stratum.explain(pipelines, cv=3)
