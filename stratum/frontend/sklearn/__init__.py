"""The scikit-learn frontend: ``GridSearchCV``/``RandomizedSearchCV`` objects
and plain estimators on X and y, run on stratum's engine with
scikit-learn's own candidates, splits, results and refit; and any estimator's
calls memoized by content in unmodified scripts (``memoize``)."""
