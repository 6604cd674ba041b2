"""Text normalisation and typo-tolerant matching for search (Russian and English).

The normalised form is stored in a separate, trigram-indexed column so that the database
finds candidates with ``LIKE`` (:func:`typo_patterns`) while Python does the final fuzzy
filtering of those few rows with :func:`fuzzy_matches_normalized`.
"""

from __future__ import annotations

import unicodedata

from rapidfuzz.distance import OSA

__all__ = [
    "LEGAL_FORMS",
    "dedup_key",
    "fuzzy_matches",
    "fuzzy_matches_normalized",
    "normalize_name_for_dedup",
    "normalize_text",
    "typo_patterns",
    "within_one_typo",
]

# Queries shorter than this must match a word prefix exactly (a typo in 1-3 letters
# matches far too much).
MIN_FUZZY_LEN = 4

#: Legal-form words dropped by :func:`normalize_name_for_dedup` (already normalised).
LEGAL_FORMS: frozenset[str] = frozenset(
    {
        "ооо", "оао", "зао", "пао", "ао", "нао", "ип", "чп",
        "llc", "ltd", "inc", "gmbh", "co", "corp", "plc",
    }
)  # fmt: skip

# Spelled-out legal forms, dropped as whole phrases (already normalised).
_LEGAL_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    tuple(p.split())
    for p in (
        "общество с ограниченной ответственностью",
        "публичное акционерное общество",
        "непубличное акционерное общество",
        "открытое акционерное общество",
        "закрытое акционерное общество",
        "акционерное общество",
        "индивидуальный предприниматель",
        "limited liability company",
    )
)


def _keep(ch: str) -> bool:
    # Letters, digits and combining marks (so that scripts with vowel signs stay intact).
    return unicodedata.category(ch)[0] in "LNM"


class _KeepTable(dict[int, str]):
    """For str.translate: a character kept as it is, or a space (see _keep), each decided
    once; the translation then runs in C (an import normalises thousands of names)."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        value = ch if _keep(ch) else " "
        if len(self) < 100_000:
            self[code] = value
        return value


_KEEP = _KeepTable()


def _normalize_once(s: str) -> str:
    s = unicodedata.normalize("NFKC", s).casefold()
    s = unicodedata.normalize("NFKC", s)
    s = s.replace("ё", "е")
    s = s.translate(_KEEP)
    return " ".join(s.split())


def normalize_text(s: str) -> str:
    """Searchable, case-insensitive form of ``s``.

    NFKC + casefold, ё→е (Ё too), every character that is not a letter/digit (punctuation,
    quotes «»"', dashes, symbols) becomes a space, whitespace is collapsed and stripped.
    'ООО «Ёлка-Плюс»' → 'ооо елка плюс'. Idempotent: ``normalize_text(normalize_text(x)) ==
    normalize_text(x)``.
    """
    result = _normalize_once(s)
    # Unicode casefolding/NFKC are not guaranteed to be idempotent for every exotic code point;
    # iterate to a fixed point (in practice the loop body runs at most once).
    for _ in range(4):
        again = _normalize_once(result)
        if again == result:
            break
        result = again
    return result


def _drop_phrases(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        for phrase in _LEGAL_PHRASES:
            if tuple(words[i : i + len(phrase)]) == phrase:
                i += len(phrase)
                break
        else:
            out.append(words[i])
            i += 1
    return out


def normalize_name_for_dedup(s: str) -> str:
    """Key for spotting duplicate companies: :func:`normalize_text` minus legal forms.

    Drops the words in :data:`LEGAL_FORMS` (ооо, оао, зао, пао, ао, ип, llc, ltd, inc, gmbh,
    co, ...) and spelled-out forms ("общество с ограниченной ответственностью") wherever they
    are; word order is kept (nothing is sorted). 'ООО "Иванов"' and 'иванов ооо' → 'иванов'.
    If nothing but legal forms is left (e.g. 'ООО'), the plain normalised text is returned so
    that the key is never empty for a non-empty name.
    """
    return dedup_key(normalize_text(s))


def dedup_key(normalized: str) -> str:
    """:func:`normalize_name_for_dedup` of a name already normalised (a stored
    ``name_norm``): nothing is normalised again."""
    words = normalized.split()
    kept = [w for w in _drop_phrases(words) if w not in LEGAL_FORMS]
    return " ".join(kept) if kept else " ".join(words)


def _typo1(a: str, b: str) -> bool:
    """Optimal-string-alignment (restricted Damerau-Levenshtein) distance ≤ 1.

    For a threshold of 1 OSA equals the unrestricted Damerau-Levenshtein distance.
    """
    return OSA.distance(a, b, score_cutoff=1) <= 1


def within_one_typo(query: str, candidate_word: str) -> bool:
    """Is ``candidate_word`` equal to ``query`` up to one typo?

    Both are normalised with :func:`normalize_text` first. A typo is one insertion, deletion,
    substitution or transposition of adjacent letters (Damerau-Levenshtein distance ≤ 1).
    Queries shorter than 4 characters get no typo tolerance: they must be an exact prefix of
    the candidate. An empty query never matches.
    """
    q = normalize_text(query)
    c = normalize_text(candidate_word)
    if not q:
        return False
    if len(q) < MIN_FUZZY_LEN:
        return c.startswith(q)
    return _typo1(q, c)


def _word_matches(q: str, word: str) -> bool:
    if word.startswith(q):
        return True
    if len(q) < MIN_FUZZY_LEN:
        return False
    # Whole word, or a prefix of it: the user may not have finished typing ("ивонов" →
    # "иванова"). Prefixes of length len(q)±1 cover a missing/extra letter inside the prefix.
    n = len(q)
    return any(_typo1(q, word[:k]) for k in {n - 1, n, n + 1, len(word)} if k > 0)


def fuzzy_matches(query: str, text: str) -> bool:
    """Typo-tolerant "search as you type" match of ``query`` against ``text``.

    Both are normalised with :func:`normalize_text`. True if every query word is a prefix of
    some word of ``text``, or (for query words of 4+ characters) within one typo of such a
    word or of one of its prefixes of about the same length. An empty query matches anything.
    Query words are matched independently (two query words may match the same text word).
    """
    return fuzzy_matches_normalized(normalize_text(query).split(), normalize_text(text))


def fuzzy_matches_normalized(query_words: list[str], text: str) -> bool:
    """:func:`fuzzy_matches` for a query and a text already normalised (a stored
    ``search_text``): nothing is normalised again."""
    text_words = text.split()
    return all(any(_word_matches(q, w) for w in text_words) for q in query_words)


def typo_patterns(word: str) -> tuple[list[str] | None, list[str]]:
    """What finds, in SQL, every text a normalised query ``word`` matches
    under :func:`fuzzy_matches` (and some more, for the caller to filter out).

    Returns ``(anchors, exact)``. Every matching text contains at least one of ``exact``:
    the word itself for words under 4 characters, else every one-typo variant of the word
    (``_`` standing for any one letter). ``anchors`` are plain strings of three letters or
    more, one of which every matching text contains as well, so a trigram index can find
    the candidates; None when the word is too short to have such anchors.

    Why the anchors hold: a typo touches at most two neighbouring letters. Split the word in
    halves of 3+ letters: a typo inside one half, or one letter inserted between them,
    leaves the other half intact; the only typo touching both is the swap of the two letters
    around the split, which is an anchor of its own.
    """
    n = len(word)
    if n < MIN_FUZZY_LEN:
        return ([word] if n >= 3 else None), [f"%{word}%"]
    variants = {word[:i] + "_" + word[i + 1 :] for i in range(n)}  # a wrong letter
    variants |= {word[:i] + word[i + 1 :] for i in range(n)}  # a letter too many
    variants |= {word[:i] + "_" + word[i:] for i in range(1, n)}  # a letter missing
    variants |= {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(n - 1)}
    exact = sorted(f"%{v}%" for v in variants)
    if n < 6:
        return None, exact
    m = n // 2
    swapped = word[: m - 1] + word[m] + word[m - 1] + word[m + 1 :]
    return [word[:m], word[m:], swapped], exact
