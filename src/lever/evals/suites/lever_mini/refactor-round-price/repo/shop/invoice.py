from decimal import Decimal


def line_total(price: str, quantity: int) -> Decimal:
    return (Decimal(price) * quantity).quantize(Decimal("0.01"))
