"""Product search: words matched against name, category and description (English and Chinese), ranked,
filtered, sorted, paged.

The catalogue is small (tens of products), so ranking happens in Python over the category's products; a
real mall would hand this to a search index, and only this module would change.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..models import Category, Product

SORTS = ("relevance", "price_asc", "price_desc")
MAX_QUERY_LENGTH = 100
MAX_TERMS = 8

# Weights: a word in the name says far more about a product than the same word in its description.
NAME_WEIGHT = 10
NAME_WHOLE_WORD_BONUS = 5
CATEGORY_WEIGHT = 4
DESCRIPTION_WEIGHT = 2

_WORD = re.compile(r"[0-9a-z\u00c0-\u024f\u4e00-\u9fff]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Page:
    """One page of a list of products."""

    items: list[Product]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.page * self.per_page, self.total)


@dataclass
class SearchResult:
    query: str
    terms: list[str]
    category: Category | None
    sort: str
    page: Page
    matched_any_word: bool = False  # no product had every word, so products with some of them are shown
    suggestions: list[str] = field(default_factory=list)  # "did you mean" words for an empty result


def normalise_sort(value: str | None) -> str:
    return value if value in SORTS else "relevance"


def normalise_page(value: object) -> int:
    try:
        page = int(str(value))
    except (TypeError, ValueError):
        return 1
    return max(page, 1)


def tokenize(query: str) -> list[str]:
    """Lower-case words of the query, duplicates dropped, at most MAX_TERMS."""
    words: list[str] = []
    for word in _WORD.findall(query[:MAX_QUERY_LENGTH].lower()):
        if word not in words:
            words.append(word)
    return words[:MAX_TERMS]


def _variants(term: str) -> list[str]:
    """The term and a naive singular ('sauces' finds 'sauce', 'boxes' finds 'box')."""
    variants = [term]
    if len(term) > 4 and term.endswith("es"):
        variants.append(term[:-2])
    if len(term) > 3 and term.endswith("s"):
        variants.append(term[:-1])
    return variants


def _matches(term: str, text: str) -> tuple[bool, bool]:
    """(a word of text starts with the term, a word of text is exactly the term).

    Chinese is written without spaces between words, so a term with a Chinese character matches anywhere in
    the text ('香米' in '泰國茉莉香米 5公斤'), and counts as a whole word.
    """
    if _CJK.search(term):
        found = term in text
        return found, found
    prefix = whole = False
    for variant in _variants(term):
        if re.search(rf"\b{re.escape(variant)}", text):
            prefix = True
            if re.search(rf"\b{re.escape(variant)}\b", text):
                whole = True
    return prefix, whole


def term_score(term: str, product: Product) -> int:
    """How strongly one word points at this product (0: not at all)."""
    score = 0
    in_name, whole = _matches(term, f"{product.name}\n{product.name_zh}".lower())
    if in_name:
        score += NAME_WEIGHT + (NAME_WHOLE_WORD_BONUS if whole else 0)
    category = product.category
    if any(_matches(term, text)[0] for text in (category.name.lower(), category.name_zh, category.slug)):
        score += CATEGORY_WEIGHT
    if _matches(term, f"{product.description}\n{product.description_zh}".lower())[0]:
        score += DESCRIPTION_WEIGHT
    return score


def rank(products: Sequence[Product], terms: Sequence[str]) -> tuple[list[Product], bool]:
    """Products with every word, best first; failing that, products with any word. Returns (ranked, any_word)."""
    scored: list[tuple[int, int, Product]] = []
    for product in products:
        scores = [term_score(term, product) for term in terms]
        scored.append((sum(scores), sum(1 for s in scores if s), product))
    every = [item for item in scored if item[1] == len(terms)]
    matched_any = False
    if not every and len(terms) > 1:
        every = [item for item in scored if item[1] > 0]
        matched_any = bool(every)
    every.sort(key=lambda item: (-item[1], -item[0], item[2].name.lower()))
    return [item[2] for item in every], matched_any


def sort_products(products: list[Product], sort: str) -> list[Product]:
    if sort == "price_asc":
        return sorted(products, key=lambda p: (p.price_cents, p.name.lower()))
    if sort == "price_desc":
        return sorted(products, key=lambda p: (-p.price_cents, p.name.lower()))
    return products


def paginate(products: Sequence[Product], page: int, per_page: int) -> Page:
    """A page of the list; a page past the end shows the last page."""
    total = len(products)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    start = (page - 1) * per_page
    return Page(list(products[start : start + per_page]), page, per_page, total)


def _vocabulary(products: Sequence[Product]) -> list[str]:
    words: set[str] = set()
    for product in products:
        words.update(w for w in _WORD.findall(f"{product.name} {product.category.name}".lower()) if len(w) > 2)
    return sorted(words)


def suggest(terms: Sequence[str], products: Sequence[Product]) -> list[str]:
    """Close spellings of the query's words from the catalogue ('jasmin' -> 'jasmine')."""
    vocabulary = _vocabulary(products)
    suggestions: list[str] = []
    for term in terms:
        for word in difflib.get_close_matches(term, vocabulary, n=2, cutoff=0.7):
            if word != term and word not in suggestions:
                suggestions.append(word)
    return suggestions[:4]


def find_category(slug: str | None) -> Category | None:
    if not slug:
        return None
    return db.session.scalar(sa.select(Category).where(Category.slug == slug))


def category_products(category: Category | None) -> list[Product]:
    statement = sa.select(Product).options(joinedload(Product.category)).order_by(Product.name)
    if category is not None:
        statement = statement.where(Product.category_id == category.id)
    return list(db.session.scalars(statement).unique())


def search_products(
    query: str, *, category_slug: str | None = None, sort: str = "relevance", page: int = 1, per_page: int = 12
) -> SearchResult:
    """Search the catalogue. An empty query lists everything (in the category, if one is chosen)."""
    query = (query or "").strip()[:MAX_QUERY_LENGTH]
    terms = tokenize(query)
    category = find_category(category_slug)
    sort = normalise_sort(sort)
    candidates = category_products(category)
    matched_any = False
    if terms:
        ranked, matched_any = rank(candidates, terms)
    else:
        ranked = candidates
    ordered = sort_products(ranked, sort)
    suggestions = suggest(terms, category_products(None)) if terms and not ordered else []
    return SearchResult(
        query=query,
        terms=terms,
        category=category,
        sort=sort,
        page=paginate(ordered, page, per_page),
        matched_any_word=matched_any,
        suggestions=suggestions,
    )
