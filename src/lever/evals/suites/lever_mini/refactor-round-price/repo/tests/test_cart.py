from decimal import Decimal

from shop.cart import cart_total


def test_cart_total():
    assert cart_total(["1.005", "2"]) == Decimal("3.01")
