import argparse
import collections
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="wordfreq")
    parser.add_argument("file")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    text = open(args.file, encoding="utf-8").read()
    counts = collections.Counter(text.split())
    for word, count in counts.most_common(args.top):
        print(f"{count} {word}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
