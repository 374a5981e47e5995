"""Deterministic synthetic tables for tests and benchmarks.

Every generator takes ``n_rows`` and ``seed`` and returns a pandas DataFrame.
The same ``(n_rows, seed)`` always gives the same frame; nothing is downloaded.
The vocabularies (towns, streets, words) are fixed, so category names are stable
across seeds; only the sampling depends on ``seed``. All sampling is vectorized
(a million rows take a few seconds).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["make_house_prices", "make_reviews"]

_StringDType = np.dtypes.StringDType


def _strings(values) -> np.ndarray:
    return np.asarray(list(values), dtype=_StringDType())


def _to_str_series(arr: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
    """numpy StringDType array (+ missing mask) -> pandas string column."""
    obj = arr.astype(object)
    if missing is not None:
        obj[missing] = None
    return pd.Series(obj, dtype="str")


def _pool_series(pool: np.ndarray, codes: np.ndarray, missing=None) -> pd.Series:
    """Build a string column by indexing a small pool of distinct values.

    Converting only the pool to Python objects keeps this fast for large n.
    """
    cat = pd.Categorical.from_codes(codes, categories=pd.Index(pool.astype(object)))
    col = pd.Series(cat).astype("str")
    if missing is not None:
        col[missing] = None
    return col


def _missing(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    return rng.random(n) < rate


# ---------------------------------------------------------------------------
# House prices
# ---------------------------------------------------------------------------

_COUNTIES = [
    "Greater London",
    "West Yorkshire",
    "Kent",
    "Essex",
    "Devon",
    "Lancashire",
    "Surrey",
    "Norfolk",
    "Cumbria",
    "Merseyside",
    "Gwynedd",
    "Île-de-France",
]
_COUNTY_EFFECT = np.array(
    [0.9, -0.25, 0.3, 0.2, 0.05, -0.3, 0.6, -0.05, -0.35, -0.3, -0.2, 0.8]
)
_COUNTY_CENTER = np.array(
    [
        [51.51, -0.13],
        [53.80, -1.55],
        [51.27, 0.52],
        [51.74, 0.47],
        [50.72, -3.53],
        [53.76, -2.70],
        [51.31, -0.56],
        [52.63, 1.30],
        [54.58, -2.90],
        [53.41, -2.99],
        [52.93, -4.05],
        [48.86, 2.35],
    ]
)
# fmt: off
_SYLLABLES_A = ["Ash", "Brad", "Cam", "Dun", "Els", "Fair", "Glen", "Hal", "Kings",
                "Lang", "Mar", "New", "Ock", "Pen", "Rad", "Stan", "Thorn", "Wes",
                "Sainte-", "Bé", "Mont", "Llan"]
_SYLLABLES_B = ["ford", "ton", "by", "field", "ham", "ley", "worth", "bury", "wick",
                "mouth", "stead", "gate", "rès", "ville", "dûn", "fach"]
_STREET_NAMES = ["High", "Church", "Station", "Victoria", "Mill", "Park", "Green",
                 "Manor", "Queen's", "King's", "Oak", "Elm", "Chapel", "Bridge",
                 "School", "Castle", "North", "South", "Orchard", "Meadow", "Albert",
                 "George", "York", "Windsor", "Cedar", "Willow", "Grange", "Hill",
                 "Spring", "Abbey", "Brook", "Forge", "Rose", "Mount", "Heath"]
_STREET_TYPES = ["Street", "Road", "Lane", "Avenue", "Close", "Way", "Drive",
                 "Crescent", "Gardens", "Court", "Place", "Terrace", "Row", "Mews"]
_SPECIAL_STREETS = ["Rue de l'Église", "Straße der Einheit", "Hauptstraße",
                    "Ōsaka-dōri", "Calle de la Peña", "Åkervägen", "Łąkowa",
                    "Große Bleichen", "Place du Marché", "Ffordd Glyndŵr",
                    "Chemin des Écoliers", "Gänseblümchenweg"]
# fmt: on
_PROPERTY_TYPES = ["Detached", "Semi-detached", "Terraced", "Flat", "Other"]
_PROPERTY_P = np.array([0.25, 0.27, 0.26, 0.19, 0.03])
_PROPERTY_EFFECT = np.array([0.35, 0.1, 0.0, -0.15, -0.1])
_PROPERTY_AREA = np.array([150.0, 100.0, 85.0, 60.0, 90.0])
_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))


def _vocab_rng() -> np.random.Generator:
    # Fixed: the vocabularies do not depend on the caller's seed.
    return np.random.default_rng(20240607)


def _geography():
    vrng = _vocab_rng()
    n_towns = 160
    a = vrng.integers(len(_SYLLABLES_A), size=n_towns * 3)
    b = vrng.integers(len(_SYLLABLES_B), size=n_towns * 3)
    names = []
    seen = set()
    for i, j in zip(a, b):
        name = _SYLLABLES_A[i] + _SYLLABLES_B[j]
        if name not in seen:
            seen.add(name)
            names.append(name)
        if len(names) == n_towns:
            break
    towns = np.array(names, dtype=object)
    n_districts = 48
    district_county = np.arange(n_districts) % len(_COUNTIES)
    district_names = np.array(
        [
            f"{towns[i * 3]} {'District' if i % 3 else 'Borough'}"
            for i in range(n_districts)
        ],
        dtype=object,
    )
    town_district = vrng.integers(n_districts, size=len(towns))
    district_effect = vrng.normal(0.0, 0.15, size=n_districts)
    return towns, town_district, district_names, district_county, district_effect


def _street_pool() -> np.ndarray:
    plain = [f"{n} {t}" for n in _STREET_NAMES for t in _STREET_TYPES]
    return _strings(plain + _SPECIAL_STREETS)


def _postcode_pool(n_pool: int, rng: np.random.Generator) -> np.ndarray:
    area = np.strings.add(
        _strings(_LETTERS[rng.integers(len(_LETTERS), size=n_pool)]),
        _strings(_LETTERS[rng.integers(len(_LETTERS), size=n_pool)]),
    )
    district = rng.integers(1, 30, size=n_pool).astype(_StringDType())
    sector = rng.integers(0, 10, size=n_pool).astype(_StringDType())
    unit = np.strings.add(
        _strings(_LETTERS[rng.integers(len(_LETTERS), size=n_pool)]),
        _strings(_LETTERS[rng.integers(len(_LETTERS), size=n_pool)]),
    )
    code = np.strings.add(np.strings.add(area, district), " ")
    code = np.strings.add(np.strings.add(code, sector), unit)
    return np.unique(code)


def make_house_prices(n_rows: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Synthetic property-sales records with a skewed positive ``price`` target.

    Columns: ``sale_date`` (datetime64), ``postcode`` and ``street``
    (high-cardinality strings, some non-ASCII and rare emoji), ``town``,
    ``district``, ``county`` (medium cardinality), ``property_type``,
    ``old_new``, ``tenure`` (low cardinality), ``floor_area``, ``n_rooms``,
    ``lat``, ``lon`` (numeric) and ``price``. Several columns have 3-8% missing
    values (NaN for numbers, missing for strings).

    Parameters
    ----------
    n_rows : int
        Number of rows.
    seed : int
        Seed of the numpy Generator used for sampling.

    Returns
    -------
    pandas.DataFrame
    """
    n = int(n_rows)
    rng = np.random.default_rng(seed)
    towns, town_district, district_names, district_county, district_effect = (
        _geography()
    )

    town = rng.integers(len(towns), size=n)
    district = town_district[town]
    county = district_county[district]

    ptype = rng.choice(len(_PROPERTY_TYPES), size=n, p=_PROPERTY_P)
    is_new = rng.random(n) < 0.1
    p_lease = np.where(ptype == 3, 0.85, 0.12)
    leasehold = rng.random(n) < p_lease

    floor_area = _PROPERTY_AREA[ptype] * rng.lognormal(0.0, 0.28, size=n)
    floor_area = np.round(floor_area, 1)
    n_rooms = np.clip(np.round(floor_area / 28.0 + rng.normal(0, 0.8, size=n)), 1, 14)

    center = _COUNTY_CENTER[county]
    lat = np.round(center[:, 0] + rng.normal(0, 0.12, size=n), 5)
    lon = np.round(center[:, 1] + rng.normal(0, 0.18, size=n), 5)

    start = np.datetime64("2015-01-01")
    days = rng.integers(0, 3652, size=n)
    sale_date = (start + days.astype("timedelta64[D]")).astype("datetime64[ns]")
    years = days / 365.25

    log_price = (
        12.0
        + _COUNTY_EFFECT[county]
        + district_effect[district]
        + _PROPERTY_EFFECT[ptype]
        + 0.9 * np.log(floor_area / 100.0)
        + 0.04 * years
        + 0.08 * is_new
        + 0.05 * (~leasehold)
        + rng.normal(0, 0.22, size=n)
    )
    price = np.round(np.exp(log_price), -2)

    street_pool = _street_pool()
    street_codes = rng.integers(len(street_pool), size=n)
    street = street_pool[street_codes]
    emoji = rng.random(n) < 0.004
    if emoji.any():
        street[emoji] = np.strings.add(street[emoji], " 🏡")
    numbered = rng.random(n) < 0.5
    if numbered.any():
        nums = rng.integers(1, 250, size=int(numbered.sum())).astype(_StringDType())
        street[numbered] = np.strings.add(np.strings.add(nums, " "), street[numbered])

    pc_pool = _postcode_pool(max(64, min(n // 2 + 1, 400_000)), rng)
    postcode_codes = rng.integers(len(pc_pool), size=n)

    df = pd.DataFrame(
        {
            "sale_date": sale_date,
            "postcode": _pool_series(pc_pool, postcode_codes, _missing(rng, n, 0.03)),
            "street": _to_str_series(street, _missing(rng, n, 0.05)),
            "town": _pool_series(
                np.asarray(towns, dtype=_StringDType()), town, _missing(rng, n, 0.05)
            ),
            "district": _pool_series(
                np.asarray(district_names, dtype=_StringDType()),
                district,
                _missing(rng, n, 0.06),
            ),
            "county": _pool_series(_strings(_COUNTIES), county),
            "property_type": _pool_series(_strings(_PROPERTY_TYPES), ptype),
            "old_new": _pool_series(_strings(["N", "Y"]), is_new.astype(np.int8)),
            "tenure": _pool_series(
                _strings(["Freehold", "Leasehold"]),
                leasehold.astype(np.int8),
                _missing(rng, n, 0.07),
            ),
            "floor_area": floor_area,
            "n_rooms": n_rooms,
            "lat": lat,
            "lon": lon,
            "price": price,
        }
    )
    df.loc[_missing(rng, n, 0.08), "floor_area"] = np.nan
    df.loc[_missing(rng, n, 0.06), "n_rooms"] = np.nan
    geo_missing = _missing(rng, n, 0.04)
    df.loc[geo_missing, "lat"] = np.nan
    df.loc[geo_missing, "lon"] = np.nan
    return df


# ---------------------------------------------------------------------------
# Reviews
# ---------------------------------------------------------------------------

# fmt: off
_POSITIVE = ["great", "excellent", "love", "perfect", "amazing", "très bon",
             "génial", "schön", "fantastique", "wonderful", "happy", "recommend",
             "superbe", "brilliant", "délicieux", "👍", "flawless", "sturdy"]
_NEGATIVE = ["terrible", "awful", "broken", "hate", "poor", "déçu", "mauvais",
             "schlecht", "waste", "refund", "disappointed", "nul", "👎", "cheap",
             "return", "faulty", "défectueux", "useless"]
_NEUTRAL = ["okay", "average", "fine", "arrived", "package", "ordinary", "délai",
            "normal", "decent", "acceptable", "product", "price", "size", "colour",
            "mittel", "standard", "expected", "bof"]
_FILLER = ["the", "it", "was", "and", "this", "very", "really", "quite", "but",
           "le", "la", "und", "is", "a", "so", "item", "für", "ça", "rather"]
_CATEGORIES = ["Électronique", "Books", "Küche", "Toys", "Garden", "Beauty",
               "Sports", "Música"]
# fmt: on
_CATEGORY_EFFECT = np.array([-0.2, 0.3, 0.0, 0.1, -0.1, 0.2, 0.0, 0.15])
_PLATFORMS = ["web", "ios", "android", "magasin"]


def make_reviews(n_rows: int = 1000, seed: int = 0, n_classes: int = 3) -> pd.DataFrame:
    """Synthetic product reviews for classification.

    Columns: ``review`` (free text with accents and emoji, ~2% empty strings and
    ~2% missing), ``product_category`` and ``platform`` (categorical),
    ``helpful_votes`` (int), ``price_paid`` (float, ~5% NaN), ``verified``
    (bool), ``review_date`` (datetime64) and the integer target ``label``
    (0 = negative, 1 = neutral, 2 = positive; with ``n_classes=2``, 0/1),
    correlated with the words of the review.

    Parameters
    ----------
    n_rows : int
        Number of rows.
    seed : int
        Seed of the numpy Generator used for sampling.
    n_classes : {2, 3}
        Number of classes of ``label``.

    Returns
    -------
    pandas.DataFrame
    """
    if n_classes not in (2, 3):
        raise ValueError(f"n_classes must be 2 or 3, got {n_classes!r}")
    n = int(n_rows)
    rng = np.random.default_rng(seed)

    category = rng.integers(len(_CATEGORIES), size=n)
    platform = rng.choice(len(_PLATFORMS), size=n, p=[0.45, 0.25, 0.25, 0.05])
    verified = rng.random(n) < 0.7
    price_paid = np.round(rng.lognormal(3.0, 0.8, size=n), 2)
    latent = (
        rng.normal(0, 1, size=n)
        + _CATEGORY_EFFECT[category]
        + 0.25 * verified
        - 0.1 * np.log(price_paid / 20.0)
    )
    if n_classes == 3:
        label = np.digitize(latent, [-0.45, 0.45])
    else:
        label = (latent > 0).astype(np.int64)
    helpful_votes = rng.poisson(np.where(label == 0, 4.0, 1.5))

    # Words: the sentiment words of a review mostly come from its label's
    # vocabulary (and sometimes from another one), mixed with neutral words
    # and fillers.
    vocabs = [_strings(_NEGATIVE), _strings(_NEUTRAL), _strings(_POSITIVE)]
    if n_classes == 2:
        vocabs = [vocabs[0], vocabs[2]]
    fillers = _strings(_FILLER)
    neutral = _strings(_NEUTRAL)
    n_slots = 8
    n_words = rng.integers(3, n_slots + 1, size=n)
    text = None
    for j in range(n_slots):
        kind = rng.random(n)
        own = rng.random(n) < 0.8
        source = np.where(own, label, rng.integers(len(vocabs), size=n))
        word = fillers[rng.integers(len(fillers), size=n)]
        sentiment = kind < 0.4
        for k, vocab in enumerate(vocabs):
            sel = sentiment & (source == k)
            if sel.any():
                word[sel] = vocab[rng.integers(len(vocab), size=int(sel.sum()))]
        neu = (kind >= 0.4) & (kind < 0.55)
        if neu.any():
            word[neu] = neutral[rng.integers(len(neutral), size=int(neu.sum()))]
        if text is None:
            text = word
            continue
        active = j < n_words
        sep = np.where(active, " ", "").astype(_StringDType())
        word = np.where(active, word, "").astype(_StringDType())
        text = np.strings.add(np.strings.add(text, sep), word)
    punct = _strings([".", "!", "", "..."])[rng.integers(4, size=n)]
    text = np.strings.add(text, punct)
    empty = rng.random(n) < 0.02
    text[empty] = ""

    start = np.datetime64("2019-01-01")
    days = rng.integers(0, 2000, size=n)
    review_date = (start + days.astype("timedelta64[D]")).astype("datetime64[ns]")

    df = pd.DataFrame(
        {
            "review": _to_str_series(text, _missing(rng, n, 0.02)),
            "product_category": _pool_series(_strings(_CATEGORIES), category),
            "platform": _pool_series(_strings(_PLATFORMS), platform),
            "helpful_votes": helpful_votes.astype(np.int64),
            "price_paid": price_paid,
            "verified": verified,
            "review_date": review_date,
            "label": label.astype(np.int64),
        }
    )
    df.loc[_missing(rng, n, 0.05), "price_paid"] = np.nan
    return df
