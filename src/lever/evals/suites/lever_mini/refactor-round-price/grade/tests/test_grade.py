import inspect
from decimal import Decimal

import shop.cart
import shop.invoice
from shop.cart import cart_total
from shop.invoice import line_total
from shop.money import round_price


def test_round_price():
    assert round_price(Decimal("2.675")) == Decimal("2.68")
    assert round_price(Decimal("2.665")) == Decimal("2.67")
    assert round_price(Decimal("-1.005")) == Decimal("-1.01")


def test_behaviour():
    assert cart_total(["1.005", "2"]) == Decimal("3.01")
    assert line_total("0.125", 1) == Decimal("0.13")
    assert line_total("1.10", 3) == Decimal("3.30")


def test_no_copies_left():
    for module in (shop.cart, shop.invoice):
        source = inspect.getsource(module)
        assert "quantize" not in source and "round_price" in source
