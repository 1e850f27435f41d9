from decimal import ROUND_HALF_UP, Decimal


def cart_total(prices: list[str]) -> Decimal:
    total = sum((Decimal(p) for p in prices), Decimal(0))
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
