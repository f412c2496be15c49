"""Inventory sync from the warehouse feed: last-writer-wins by feed sequence number.

Updates can arrive out of order or twice; an update older than the one applied is
ignored, so replaying the feed is always safe.
"""


def apply_feed(on_hand: dict, applied_sequence: dict, updates: list) -> int:
    """Apply `{"sku", "quantity", "sequence"}` updates; return how many changed stock."""
    changed = 0
    for update in sorted(updates, key=lambda u: u["sequence"]):
        sku = update["sku"]
        if update["sequence"] <= applied_sequence.get(sku, -1):
            continue
        applied_sequence[sku] = update["sequence"]
        if on_hand.get(sku) != update["quantity"]:
            on_hand[sku] = update["quantity"]
            changed += 1
    return changed
