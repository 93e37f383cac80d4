"""Sliding time windows shared by the threshold detectors."""

from collections import deque


class DistinctWindow:
    """How many distinct items each key saw in the last ``window`` seconds."""

    def __init__(self, window: float):
        self.window = window
        self.items: dict[object, dict[object, float]] = {}

    def add(self, key: object, item: object, time: float) -> int:
        seen = self.items.setdefault(key, {})
        seen.pop(item, None)
        seen[item] = time  # keep dict order = time order
        while seen:
            oldest, when = next(iter(seen.items()))
            if time - when <= self.window:
                break
            del seen[oldest]
        return len(seen)


class SumWindow:
    """The sum of each key's values over the last ``window`` seconds."""

    def __init__(self, window: float):
        self.window = window
        self.values: dict[object, deque] = {}
        self.totals: dict[object, float] = {}

    def add(self, key: object, value: float, time: float) -> float:
        values = self.values.setdefault(key, deque())
        values.append((time, value))
        total = self.totals.get(key, 0.0) + value
        while time - values[0][0] > self.window:
            total -= values.popleft()[1]
        self.totals[key] = total
        return total


class Once:
    """Lets one alert per key through every ``window`` seconds."""

    def __init__(self, window: float):
        self.window = window
        self.last: dict[object, float] = {}

    def __call__(self, key: object, time: float) -> bool:
        last = self.last.get(key)
        if last is not None and time - last < self.window:
            return False
        self.last[key] = time
        return True
