"""Search: words over name, category and description; ranking, category filter, sort, pagination, empty results."""

from __future__ import annotations

import re

import pytest

from shop.catalog.search import search_products, tokenize


def names(result) -> list[str]:
    return [product.name for product in result.page.items]


def test_name_matches_rank_above_description_matches(ctx):
    result = search_products("rice", per_page=50)
    found = names(result)
    assert found[:2] == ["Thai Hom Mali Jasmine Rice 5kg", "Micom Rice Cooker 1.8L"] or found[:2] == [
        "Micom Rice Cooker 1.8L",
        "Thai Hom Mali Jasmine Rice 5kg",
    ]
    assert "Premium Light Soy Sauce 500ml" in found[2:]  # "fried rice" is only in its description


def test_a_name_match_with_a_description_match_beats_a_name_match_alone(ctx):
    # The rice cooker says rice in its name and its description; the jasmine rice does too; both beat the soy sauce.
    found = names(search_products("rice", per_page=50))
    assert found.index("Premium Light Soy Sauce 500ml") == len(found) - 1


def test_search_matches_the_category_name(ctx):
    found = names(search_products("electronics", per_page=50))
    assert len(found) == 8
    assert "True Wireless Earbuds" in found


def test_every_word_must_match_when_some_product_has_them_all(ctx):
    result = search_products("soy sauce", per_page=50)
    assert names(result) == ["Premium Light Soy Sauce 500ml"]
    assert not result.matched_any_word


def test_products_matching_some_words_are_shown_when_none_match_all(ctx):
    result = search_products("mahjong headphones", per_page=50)
    assert result.matched_any_word
    assert set(names(result)) == {"Travel Mahjong Set", "Wireless Noise-Cancelling Headphones"}


def test_plurals_find_the_singular(ctx):
    assert "Premium Light Soy Sauce 500ml" in names(search_products("sauces", per_page=50))


def test_search_is_case_insensitive_and_ignores_punctuation(ctx):
    assert names(search_products("  OCTOPUS!! ")) == ["Octopus Card Holder with Lanyard"]


def test_the_category_filter_keeps_only_that_category(ctx):
    result = search_products("set", category_slug="toys", per_page=50)
    assert result.category.slug == "toys"
    assert names(result)
    assert all(product.category.slug == "toys" for product in result.page.items)
    assert "Bamboo Steamer Set 25cm" not in names(result)


def test_an_unknown_category_searches_everything(ctx):
    assert search_products("rice", category_slug="nope").category is None


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [("price_asc", lambda p: p.price_cents, False), ("price_desc", lambda p: p.price_cents, True)],
)
def test_results_can_be_sorted_by_price(ctx, sort, key, reverse):
    items = search_products("", sort=sort, per_page=100).page.items
    prices = [key(product) for product in items]
    assert prices == sorted(prices, reverse=reverse)
    assert len(items) >= 48


def test_an_unknown_sort_falls_back_to_relevance(ctx):
    assert search_products("rice", sort="cheapest-first").sort == "relevance"


def test_results_are_paginated_without_overlap(ctx):
    first = search_products("", page=1, per_page=12)
    second = search_products("", page=2, per_page=12)
    assert first.page.total >= 48
    assert first.page.pages == -(-first.page.total // 12)
    assert len(first.page.items) == 12
    assert not {p.id for p in first.page.items} & {p.id for p in second.page.items}
    assert (first.page.has_prev, first.page.has_next, second.page.has_prev) == (False, True, True)


def test_a_page_past_the_end_shows_the_last_page(ctx):
    result = search_products("", page=999, per_page=12)
    assert result.page.page == result.page.pages
    assert result.page.items


def test_a_search_with_no_results_suggests_close_spellings(ctx):
    result = search_products("jasmone")
    assert result.page.total == 0
    assert "jasmine" in result.suggestions


def test_tokenize_keeps_unique_words_and_caps_their_number():
    assert tokenize("Soy soy SAUCE, 500ml!") == ["soy", "sauce", "500ml"]
    assert len(tokenize(" ".join(f"w{i}" for i in range(30)))) == 8


# --- through the page ---------------------------------------------------------------------------------------


def test_the_search_page_lists_results_with_a_count(client):
    page = client.get("/search?q=rice").get_data(as_text=True)
    assert "<title>Search results for “rice” · Harbour Mall</title>" in page
    assert "Showing 1–3 of 3" in page
    assert page.index("Thai Hom Mali Jasmine Rice 5kg") < page.index("Premium Light Soy Sauce 500ml")


def test_the_search_page_filters_and_sorts_from_the_query_string(client):
    page = client.get("/search?q=&category=sports&sort=price_desc").get_data(as_text=True)
    prices = [
        int(p.replace(",", "").replace(".", "")) for p in re.findall(r'product-card__price">HK\$([\d,.]+)<', page)
    ]
    assert len(prices) == 8
    assert prices == sorted(prices, reverse=True)
    assert '<option selected value="sports">' in page or 'value="sports" selected' in page


def test_the_search_page_links_to_the_other_pages(client):
    page = client.get("/search?q=&sort=price_asc").get_data(as_text=True)
    assert 'rel="next"' in page
    assert "page=2" in page and "sort=price_asc" in page
    second = client.get("/search?q=&sort=price_asc&page=2").get_data(as_text=True)
    assert 'rel="prev"' in second


@pytest.mark.parametrize("page_number", ["0", "-3", "abc", "99999"])
def test_odd_page_numbers_still_show_a_page(client, page_number):
    response = client.get(f"/search?q=&page={page_number}")
    assert response.status_code == 200
    assert "product-card" in response.get_data(as_text=True)


def test_an_empty_result_helps_the_shopper_on(client):
    page = client.get("/search?q=jasmone").get_data(as_text=True)
    assert "No products match “jasmone”" in page
    assert 'href="/search?q=jasmine"' in page  # did you mean
    assert "Popular searches" in page
    assert 'href="/category/supermarket"' in page


def test_an_empty_result_in_a_category_offers_to_search_everywhere(client):
    page = client.get("/search?q=headphones&category=toys").get_data(as_text=True)
    assert "No products match “headphones”" in page
    assert "Search all categories for “headphones”" in page


def test_a_very_long_query_is_cut_short_not_an_error(client):
    response = client.get("/search?q=" + "rice " * 200)
    assert response.status_code == 200
