def convert(value: float, from_unit: str, to_unit: str) -> float:
    if from_unit == "C" and to_unit == "F":
        return value * 9 / 5 + 32
    if from_unit == "F" and to_unit == "C":
        return value - 32 * 5 / 9
    if from_unit == "C" and to_unit == "K":
        return value + 273.15
    if from_unit == "K" and to_unit == "C":
        return value - 273.15
    if from_unit == "F" and to_unit == "K":
        return value - 32 * 5 / 9 + 273.15
    if from_unit == "K" and to_unit == "F":
        return (value - 273.15) * 9 / 5 + 32
    raise KeyError((from_unit, to_unit))
