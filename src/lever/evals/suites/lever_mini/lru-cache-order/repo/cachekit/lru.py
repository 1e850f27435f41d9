class LRUCache:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self.keys: list = []
        self.data: dict = {}

    def get(self, key, default=None):
        return self.data.get(key, default)

    def put(self, key, value) -> None:
        if len(self.keys) >= self.capacity:
            newest = self.keys.pop()
            del self.data[newest]
        self.keys.append(key)
        self.data[key] = value

    def __len__(self) -> int:
        return len(self.keys)
