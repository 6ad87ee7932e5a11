#!/usr/bin/env python3
"""Draws the package icon (src/MachIpc/icon.png): two Mach ports joined by a message, on a dark rounded square.

Pure Python (zlib only), so it runs anywhere; 4x4 supersampling for smooth edges. Run it after changing the design."""
import math, os, struct, zlib

SIZE, SS = 128, 4
BG, FG, ACCENT = (24, 38, 64), (236, 240, 245), (255, 176, 59)

def inside(x, y):
    """Colour at a point of the 128x128 canvas, or None for transparent."""
    r = 22  # rounded corners
    cx, cy = min(max(x, r), SIZE - r), min(max(y, r), SIZE - r)
    if (x - cx) ** 2 + (y - cy) ** 2 > r * r:
        return None
    # the message: a bar with an arrowhead, from the left port to the right one
    if 44 <= x <= 78 and abs(y - 64) <= 5:
        return ACCENT
    if 76 <= x <= 90 and abs(y - 64) <= (90 - x) * 0.9:
        return ACCENT
    # the ports: rings
    for px in (30, 98):
        d = math.hypot(x - px, y - 64)
        if 11 <= d <= 18:
            return FG
        if d < 6:
            return FG
    return BG

def render():
    rows = []
    for j in range(SIZE):
        row = bytearray([0])  # filter: none
        for i in range(SIZE):
            acc = [0, 0, 0, 0]
            for sj in range(SS):
                for si in range(SS):
                    c = inside(i + (si + 0.5) / SS, j + (sj + 0.5) / SS)
                    if c is not None:
                        acc[0] += c[0]; acc[1] += c[1]; acc[2] += c[2]; acc[3] += 255
            n = SS * SS
            a = acc[3] // n
            rgb = [acc[k] // max(1, acc[3] // 255) for k in range(3)] if a else [0, 0, 0]
            row += bytes(rgb + [a])
        rows.append(bytes(row))
    return b"".join(rows)

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

def main():
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(render(), 9)) + chunk(b"IEND", b"")
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "MachIpc", "icon.png")
    with open(out, "wb") as f:
        f.write(png)
    print(out, len(png), "bytes")

if __name__ == "__main__":
    main()
