"""Write the held-out subset committed under data/fashion: the first 100 images of the
Fashion-MNIST test split (t10k) and their labels, in the IDX format of the source files,
gzipped with mtime 0 so the bytes are reproducible.

Usage: python subset.py [--count 100] [--out ../../data/fashion]
"""

import argparse
import gzip
import os
import struct

from common import load_split


def write_idx(path: str, array) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as f:
            f.write(header + array.astype("uint8").tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "../../data/fashion"))
    args = parser.parse_args()
    images, labels = load_split("t10k")
    os.makedirs(args.out, exist_ok=True)
    write_idx(os.path.join(args.out, f"t10k-first{args.count}-images-idx3-ubyte.gz"), images[: args.count])
    write_idx(os.path.join(args.out, f"t10k-first{args.count}-labels-idx1-ubyte.gz"), labels[: args.count])
    print("labels per class:", [int((labels[: args.count] == c).sum()) for c in range(10)])


if __name__ == "__main__":
    main()
