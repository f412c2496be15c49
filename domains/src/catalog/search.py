"""Product search: tokenise, rank by matched terms then popularity, paginate by cursor.

Cursor pagination (not offsets) keeps pages stable while the catalog changes.
"""
import re
from typing import List, Optional, Tuple

WORD = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> List[str]:
    return WORD.findall(text.lower())


def search(products: List[dict], query: str, limit: int = 20, cursor: Optional[str] = None) -> Tuple[List[dict], Optional[str]]:
    terms = set(tokens(query))
    scored = []
    for product in products:
        matched = len(terms & set(tokens(product["name"] + " " + product.get("description", ""))))
        if matched:
            scored.append((-matched, -product.get("popularity", 0), product["sku"], product))
    scored.sort(key=lambda entry: entry[:3])
    start = 0
    if cursor is not None:
        start = next((index + 1 for index, entry in enumerate(scored) if entry[2] == cursor), len(scored))
    page = [entry[3] for entry in scored[start:start + limit]]
    next_cursor = page[-1]["sku"] if start + limit < len(scored) and page else None
    return page, next_cursor
