"""Native kernels: scikit-learn-compatible estimators backed by Rust code.

Each kernel subclasses its reference estimator (``reference``), takes the
same parameters and gives the same results; inputs the native code does not
handle run the reference implementation (``stratum_impl_`` says which ran).
"""

from .encoders import OneHotEncoder, OrdinalEncoder
from .impute import SimpleImputer
from .scalers import MinMaxScaler, StandardScaler

KERNELS = [OneHotEncoder, OrdinalEncoder, StandardScaler, MinMaxScaler, SimpleImputer]

__all__ = ["KERNELS", "OneHotEncoder", "OrdinalEncoder", "SimpleImputer"]
__all__ += ["MinMaxScaler", "StandardScaler"]
