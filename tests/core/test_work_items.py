"""core.work_items: the bulk helpers the worklist's loading uses give what the plain C calls give."""

from __future__ import annotations

import random

import pytest

from core.work_items import BULK_ROWS, ERROR_KEY_PREFIX, sort_keys, view_keys


def _keys(n: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    probs = [round(rng.random(), 2) for _ in range(50)]  # many ties: seq decides among them
    keys = [(rng.choice((0, 0, 0, 1, 2, 3)), -rng.choice(probs) if rng.random() < 0.9 else 0.0, seq)
            for seq in range(1, n + 1)]
    rng.shuffle(keys)
    return keys


@pytest.mark.parametrize("n", [0, 7, BULK_ROWS, BULK_ROWS + 1, 3 * BULK_ROWS])
def test_sort_keys_orders_as_sorted_does(n):
    keys = _keys(n, n)
    assert sort_keys(keys) == sorted(keys)


def test_sort_keys_puts_probability_zero_and_minus_zero_together_in_seq_order():
    # -p of a probability 0.0 is -0.0; errors and unscored rows carry 0.0: equal, so seq decides
    keys = [(0, -0.0, 3), (0, 0.0, 1), (0, -0.5, 5), (0, -0.0, 2)]
    keys += [(1, -0.5, seq) for seq in range(10, BULK_ROWS + 10)]
    random.Random(3).shuffle(keys)
    ordered = sort_keys(keys)
    assert ordered == sorted(keys)
    assert [k[2] for k in ordered[:4]] == [5, 1, 2, 3]


@pytest.mark.parametrize("n", [5, BULK_ROWS + 5])
def test_view_keys_names_rows_by_key_and_unreadable_files_by_path(n):
    view = sorted(_keys(n, 2))
    key_of = {sk[-1]: (f"{ERROR_KEY_PREFIX}f{sk[-1]}" if sk[0] == 3 else f"id{sk[-1]}") for sk in view}

    class Row:
        def __init__(self, key):
            self.path_text = f"/x/{key}.jpg"

    items = {k: Row(k) for k in key_of.values()}
    assert view_keys(view, key_of, items, False) == [key_of[sk[-1]] for sk in view]
    shown = view_keys(view, key_of, items, True)
    assert shown == [f"/x/{key_of[sk[-1]]}.jpg" if sk[0] == 3 else key_of[sk[-1]] for sk in view]
