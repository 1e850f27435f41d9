import functools
import time


def retry(attempts: int = 3, on: tuple = (ConnectionError,), delay: float = 0.0):
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for i in range(attempts - 1):
                try:
                    return func(*args, **kwargs)
                except Exception as error:
                    last = error
                    time.sleep(delay)
            raise last
        return wrapper
    return decorate
