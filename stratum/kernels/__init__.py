"""Native kernels: scikit-learn-compatible estimators backed by Rust code.

Each kernel subclasses its reference estimator (class attribute
``reference``), keeps its parameters and produces the same results;
``unsupported(estimator)`` says why a reference instance's parameters cannot
run natively. Inputs the native code does not handle run the reference
implementation (``stratum_impl_`` says which ran). ``KERNELS`` lists them all.
"""

from stratum.kernels.encoders import OneHotEncoder, OrdinalEncoder
from stratum.kernels.impute import SimpleImputer
from stratum.kernels.minhash import MinHashEncoder
from stratum.kernels.scalers import MinMaxScaler, StandardScaler
from stratum.kernels.string_encoder import StringEncoder
from stratum.kernels.svd import TruncatedSVD
from stratum.kernels.table_vectorizer import CleanNullStrings, TableVectorizer
from stratum.kernels.text import CountVectorizer, HashingVectorizer, TfidfVectorizer

KERNELS: list[type] = []
KERNELS += [CountVectorizer, TfidfVectorizer, HashingVectorizer, TruncatedSVD]
KERNELS += [StringEncoder]
KERNELS += [MinHashEncoder]
KERNELS += [OneHotEncoder, OrdinalEncoder, StandardScaler, MinMaxScaler, SimpleImputer]
KERNELS += [TableVectorizer, CleanNullStrings]

__all__ = [
    "KERNELS",
    "CleanNullStrings",
    "CountVectorizer",
    "HashingVectorizer",
    "MinHashEncoder",
    "MinMaxScaler",
    "OneHotEncoder",
    "OrdinalEncoder",
    "SimpleImputer",
    "StandardScaler",
    "StringEncoder",
    "TableVectorizer",
    "TfidfVectorizer",
    "TruncatedSVD",
]
