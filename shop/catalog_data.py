"""Harbour Mall's catalogue: the data file shop/data/catalogue.toml, read and checked once at import.

The file is data a merchandiser can edit; this module is its schema. A wrong entry (a price that is not a
whole number of cents, a product in a category that does not exist, a repeated SKU) stops the app at start
with a :class:`CatalogueError` naming the entry, rather than surfacing later as a broken page.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

CATALOGUE_FILE = Path(__file__).with_name("data") / "catalogue.toml"

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=120)]
Text = Annotated[str, Field(min_length=1, max_length=200)]


class CatalogueError(ValueError):
    """The catalogue file cannot be read or breaks a rule; the message names the file and the entry."""


class _Entry(BaseModel):
    # Strict: a price of "89.90" or 89.9 is refused, not coerced; unknown keys (a misspelt field) too.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class CategoryData(_Entry):
    slug: Annotated[Slug, Field(max_length=40)]
    name: Annotated[str, Field(min_length=1, max_length=80)]
    name_zh: Annotated[str, Field(min_length=1, max_length=80)]  # Traditional Chinese (Hong Kong)
    tagline: Text
    tagline_zh: Text
    colour: Annotated[str, Field(pattern=r"^#[0-9a-f]{6}$")]  # the accent of its product art and category card


class ProductData(_Entry):
    sku: Annotated[str, Field(pattern=r"^[A-Z]{2}-\d{3}$")]
    slug: Slug
    name: Annotated[str, Field(min_length=1, max_length=120)]
    name_zh: Annotated[str, Field(min_length=1, max_length=120)]  # Traditional Chinese (Hong Kong)
    category: Slug  # a CategoryData.slug
    price_cents: Annotated[int, Field(gt=0)]  # HK cents
    stock: Annotated[int, Field(ge=0)]
    icon: Annotated[str, Field(min_length=1, max_length=40)]  # the shape drawn on the product's image
    description: Text
    description_zh: Text

    @property
    def image(self) -> str:
        """The product's local SVG, relative to the static folder."""
        return f"shop/products/{self.slug}.svg"


class Catalogue(_Entry):
    # Lists in the file, tuples here: lax only for that conversion, every entry stays strict.
    categories: Annotated[tuple[CategoryData, ...], Field(min_length=1, strict=False)]
    products: Annotated[tuple[ProductData, ...], Field(min_length=1, strict=False)]
    featured: Annotated[tuple[str, ...], Field(strict=False)]  # SKUs shown on the home page, in order
    popular_searches: Annotated[tuple[str, ...], Field(strict=False)]  # offered when a search finds nothing
    popular_searches_zh: Annotated[tuple[str, ...], Field(strict=False)]  # the same, on Chinese pages

    @model_validator(mode="after")
    def _entries_agree(self) -> Catalogue:
        _no_repeats("category slug", [category.slug for category in self.categories])
        _no_repeats("product SKU", [product.sku for product in self.products])
        _no_repeats("product slug", [product.slug for product in self.products])
        categories = {category.slug for category in self.categories}
        for product in self.products:
            if product.category not in categories:
                raise ValueError(f"product {product.sku}: category {product.category!r} is not in [[categories]]")
        skus = {product.sku for product in self.products}
        for sku in self.featured:
            if sku not in skus:
                raise ValueError(f"featured: {sku!r} is not the SKU of a product")
        return self


def _no_repeats(what: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} appears twice")
        seen.add(value)


def load_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    """Read and check a catalogue file; raise CatalogueError naming the file and the entry at fault."""
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise CatalogueError(f"{path.name}: {error}") from error
    try:
        return Catalogue.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(_describe(problem, data) for problem in error.errors())
        raise CatalogueError(f"{path.name}: {problems}") from error


def _describe(problem: Any, data: dict) -> str:
    """One validation problem, with the entry it is about: 'product 3 (SM-003): price_cents: ...'."""
    location = list(problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    if len(location) >= 2 and location[0] in ("categories", "products") and isinstance(location[1], int):
        kind, index = location[0], location[1]
        entries = data.get(kind) or []
        entry = entries[index] if index < len(entries) and isinstance(entries[index], dict) else {}
        key = entry.get("sku" if kind == "products" else "slug")
        label = f"{kind[:-1].replace('categorie', 'category')} {index + 1}" + (f" ({key})" if key else "")
        field = ".".join(str(part) for part in location[2:])
        return f"{label}: {field}: {message}" if field else f"{label}: {message}"
    where = ".".join(str(part) for part in location)
    return f"{where}: {message}" if where else message


CATALOGUE = load_catalogue()
CATEGORIES = CATALOGUE.categories
PRODUCTS = CATALOGUE.products
FEATURED_SKUS = CATALOGUE.featured
POPULAR_SEARCHES = CATALOGUE.popular_searches
POPULAR_SEARCHES_ZH = CATALOGUE.popular_searches_zh
