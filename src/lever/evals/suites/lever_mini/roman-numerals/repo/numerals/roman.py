VALUES = [(1000, "M"), (500, "D"), (100, "C"), (50, "L"), (10, "X"), (5, "V"), (1, "I")]


def to_roman(n: int) -> str:
    out = ""
    for value, letters in VALUES:
        while n >= value:
            out += letters
            n -= value
    return out


def from_roman(text: str) -> int:
    table = dict((letters, value) for value, letters in VALUES)
    return sum(table[ch] for ch in text)
