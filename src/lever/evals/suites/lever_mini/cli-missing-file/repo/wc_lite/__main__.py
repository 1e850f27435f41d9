import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="wc_lite")
    parser.add_argument("files", nargs="+")
    parser.add_argument("--total", action="store_true", dest="totl")
    args = parser.parse_args(argv)
    total = 0
    for name in args.files:
        with open(name, encoding="utf-8") as f:
            count = sum(1 for _ in f)
        total += count
        print(f"{count} {name}")
    if getattr(args, "total", False):
        print(f"{total} total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
