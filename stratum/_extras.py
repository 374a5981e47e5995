"""How to install stratum's optional extras, for error messages.

The PyPI distribution is ``stratum-ml`` (``stratum`` on PyPI is an unrelated
project); the import name is ``stratum``.
"""

DISTRIBUTION = "stratum-ml"


def install_hint(extra: str) -> str:
    """The command that installs ``extra`` (from PyPI, or from a checkout)."""
    return (
        f'pip install "{DISTRIBUTION}[{extra}]", or pip install ".[{extra}]" '
        "in a stratum checkout"
    )
