"""Cost per attempt, where the price of the model's tokens is known.

lever keeps no price list (prices change and differ per deployment): the price is what the
person gives (`--price IN/OUT`, US dollars per million input and output tokens), or zero for
`--provider local` (a model on this machine costs no money per token). Otherwise cost is null
in the report rather than a guess.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class Price(BaseModel):
    """US dollars per million tokens."""

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)


class PriceError(ValueError):
    """A bad `--price` value (one line, exit 2)."""


def parse_price(text: str) -> Price:
    """`IN/OUT`, e.g. `1.25/10` (dollars per million input / output tokens)."""
    left, sep, right = text.partition("/")
    try:
        if not sep:
            raise ValueError
        price = Price(input_per_mtok=float(left), output_per_mtok=float(right))
    except ValueError:
        raise PriceError(
            f"--price {text!r}: give IN/OUT in US dollars per million tokens, e.g. 1.25/10"
        ) from None
    return price


def price_for(given: str | None, provider: str | None) -> Price | None:
    if given:
        return parse_price(given)
    if provider == "local":
        return Price(input_per_mtok=0, output_per_mtok=0)
    return None


def attempt_cost(price: Price | None, input_tokens: int, output_tokens: int) -> float | None:
    if price is None:
        return None
    dollars = input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok
    return round(dollars / 1_000_000, 6)
