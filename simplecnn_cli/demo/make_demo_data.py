"""Generate the bundled demo data: seven-segment digits 0..9 drawn at random
positions, sizes, stroke widths and intensities (numpy's default_rng, seeded).

    .venv/bin/python -m simplecnn_cli.demo.make_demo_data     # rewrites the .mat files

Images are a x b (height x width), pixel values in [0, 1] rounded to k/255,
stored as simpleNN data: ``Z`` is l x a*b with each image vec'ed column-major
(height fastest), ``y`` holds the digit (0..9).
"""
from __future__ import annotations

import numpy as np

#            a  b  c  d  e  f  g   (top, top-right, bottom-right, bottom, bottom-left, top-left, middle)
SEGMENTS = {0: "1111110", 1: "0110000", 2: "1101101", 3: "1111001", 4: "0110011",
            5: "1011011", 6: "1011111", 7: "1110000", 8: "1111111", 9: "1111011"}


def digit_image(digit, a, b, rng):
    """One a x b image of ``digit`` (float64, values k/255)."""
    img = np.zeros((a, b))
    h = int(rng.integers(max(7, a // 2), max(8, a - 3)))        # glyph height
    w = int(rng.integers(max(5, b // 3), max(6, b // 2 + 2)))   # glyph width
    t = int(rng.integers(1, 3 + (min(a, b) >= 24)))              # stroke width
    r0 = int(rng.integers(0, a - h + 1))
    c0 = int(rng.integers(0, b - w + 1))
    mid = r0 + h // 2
    bars = {  # (row range, column range) of each segment
        0: ((r0, r0 + t), (c0, c0 + w)),
        1: ((r0, mid + 1), (c0 + w - t, c0 + w)),
        2: ((mid, r0 + h), (c0 + w - t, c0 + w)),
        3: ((r0 + h - t, r0 + h), (c0, c0 + w)),
        4: ((mid, r0 + h), (c0, c0 + t)),
        5: ((r0, mid + 1), (c0, c0 + t)),
        6: ((mid - t // 2, mid - t // 2 + t), (c0, c0 + w)),
    }
    for k, on in enumerate(SEGMENTS[digit]):
        if on == "1":
            (ra, rb), (ca, cb) = bars[k]
            img[ra:rb, ca:cb] = 1.0
    img *= rng.uniform(0.6, 1.0)
    return np.round(img * 255) / 255


def make(l, a=28, b=28, seed=0):
    """``(y, Z)``: l instances, labels cycling through 0..9 in random order."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(l) % 10).astype(np.float64)
    Z = np.zeros((l, a * b))
    for i in range(l):
        Z[i] = digit_image(int(y[i]), a, b, rng).reshape(-1, order="F")  # column-major vec
    return y, Z


FILES = {  # name: (l, a, b, seed)
    "demo-data.mat": (512, 28, 28, 1),
    "demo-data.t.mat": (256, 28, 28, 2),
    "demo-nonsquare.mat": (64, 20, 28, 3),
}


def main():
    from pathlib import Path

    from simplecnn_py.support.datafile import save_data

    here = Path(__file__).resolve().parent
    for name, (l, a, b, seed) in FILES.items():
        y, Z = make(l, a, b, seed)
        save_data(here / name, y, Z)
        print(f"wrote {here / name}: l = {l}, {a} x {b}")


if __name__ == "__main__":
    main()
