"""Plot full vs resumed handshake cost from a JSON results file, as a PNG.

    python tools/plot_costs.py RESULTS.json [-o costs.png]

RESULTS.json:
    {"title": "Handshake cost, MicroPython unix port", "unit": "ms",
     "rows": [{"name": "TLS server", "full": 41.2, "resumed": 1.9},
              {"name": "IKEv2 initiator", "full": 30.5, "resumed": 4.4}, ...]}

One pair of bars per row (full, resumed) with the ratio written above each pair. Uses matplotlib when it
is installed (pip install matplotlib); without it, draws a plain bar chart with no text through a small
built-in PNG writer, so the tool works on any machine.
"""

import json
import struct
import sys
import zlib


def load(path):
    with open(path) as f:
        doc = json.load(f)
    rows = doc.get("rows")
    if not isinstance(rows, list) or not rows:
        raise ValueError("%s: no rows" % path)
    for r in rows:
        for k in ("name", "full", "resumed"):
            if k not in r:
                raise ValueError("%s: a row lacks %r" % (path, k))
        if not (r["full"] >= 0 and r["resumed"] >= 0):
            raise ValueError("%s: negative cost in %r" % (path, r["name"]))
    return doc


def plot_matplotlib(doc, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = doc["rows"]
    names = [r["name"] for r in rows]
    full = [r["full"] for r in rows]
    res = [r["resumed"] for r in rows]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(rows) + 2), 4))
    ax.bar([i - 0.2 for i in x], full, 0.4, label="full handshake", color="#c0504d")
    ax.bar([i + 0.2 for i in x], res, 0.4, label="resumed (ticket)", color="#4f81bd")
    for i in x:
        if res[i] > 0:
            ax.annotate("%.1fx" % (full[i] / res[i]), (i, max(full[i], res[i])), ha="center", va="bottom",
                        fontsize=8)
    ax.set_xticks(list(x))
    ax.set_xticklabels(names, rotation=15, ha="right", fontsize=8)
    ax.set_ylabel(doc.get("unit", ""))
    ax.set_title(doc.get("title", "full vs resumed"))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def _png(width, height, pixels):
    """pixels: list of rows, each a bytearray of RGB triples."""
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def plot_plain(doc, out, width=640, height=360):
    rows = doc["rows"]
    img = [bytearray(b"\xff\xff\xff" * width) for _ in range(height)]

    def rect(x0, y0, x1, y1, rgb):
        for y in range(max(0, y0), min(height, y1)):
            img[y][3 * max(0, x0):3 * min(width, x1)] = bytes(rgb) * (min(width, x1) - max(0, x0))

    top = max(max(r["full"], r["resumed"]) for r in rows) or 1.0
    left, bottom, plot_h = 40, height - 30, height - 60
    rect(left, 30, left + 2, bottom, (0, 0, 0))                      # y axis
    rect(left, bottom, width - 10, bottom + 2, (0, 0, 0))            # x axis
    slot = (width - left - 20) // len(rows)
    bar = max(2, slot // 3)
    for i, r in enumerate(rows):
        x = left + 10 + i * slot
        for j, (key, rgb) in enumerate((("full", (192, 80, 77)), ("resumed", (79, 129, 189)))):
            h = int(plot_h * r[key] / top)
            rect(x + j * bar, bottom - h, x + (j + 1) * bar - 1, bottom, rgb)
    with open(out, "wb") as f:
        f.write(_png(width, height, img))


def plot(doc, out, backend=None):
    """Write the PNG; returns the backend used ("matplotlib" or "plain")."""
    if backend in (None, "matplotlib"):
        try:
            plot_matplotlib(doc, out)
            return "matplotlib"
        except ImportError:
            if backend == "matplotlib":
                raise
    plot_plain(doc, out)
    return "plain"


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="plot_costs.py", description="full vs resumed cost, as a PNG")
    ap.add_argument("results")
    ap.add_argument("-o", "--out", default="costs.png")
    ap.add_argument("--plain", action="store_true", help="use the built-in PNG writer even with matplotlib")
    args = ap.parse_args(argv)
    try:
        doc = load(args.results)
    except (OSError, ValueError) as e:
        print("plot_costs: %s" % e, file=sys.stderr)
        return 1
    used = plot(doc, args.out, "plain" if args.plain else None)
    print("wrote %s (%s, %d rows)" % (args.out, used, len(doc["rows"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
