"""Native kernels: scikit-learn-compatible estimators backed by Rust code.

Each kernel subclasses its reference estimator (class attribute
``reference``), keeps its parameters and produces the same results;
``unsupported(estimator)`` says why a reference instance's parameters cannot
run natively. ``KERNELS`` lists them all.
"""

from stratum.kernels.string_encoder import StringEncoder
from stratum.kernels.text import CountVectorizer, HashingVectorizer, TfidfVectorizer

KERNELS: list[type] = []
KERNELS += [CountVectorizer, TfidfVectorizer, HashingVectorizer, StringEncoder]

__all__ = [
    "KERNELS",
    "CountVectorizer",
    "HashingVectorizer",
    "StringEncoder",
    "TfidfVectorizer",
]
