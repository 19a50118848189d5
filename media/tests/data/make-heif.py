#!/usr/bin/env python3
"""Makes the small HEIF-family test files in this directory from the shared
fixture jpeg-progressive.jpg (image-rs/image tests/images/jpg/progressive/cat.jpg,
MIT OR Apache-2.0). Needs Pillow, numpy, heif-enc (Debian libheif-examples)
and avifenc (Debian libavif-bin). The outputs are committed; this script
documents how they were made.

- heif-small.heic   160x120 HEVC, 8-bit (a fuzz seed and a fast test)
- avif-small.avif   160x120 AV1, 8-bit
- avif-flat-4096.avif, heif-flat-2048.heic  flat 4096x4096 / 2048x2048 frames in a
  few hundred bytes: the tests patch their declared size to 64x64 (a lying header)
- avif-pq-10bit.avif  the cat at 320x240 as HDR: its sRGB pixels taken to
  linear light with SDR white at 203 nits (BT.2408), converted to BT.2020
  primaries, PQ-encoded (SMPTE ST 2084), 10-bit, nclx 9/16/9. Tone-mapped
  back it must look like the SDR original (not dark, not washed out).
"""
import os, subprocess, sys, tempfile
import numpy as np
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.environ.get("FIXTURES_DIR", os.path.join(here, "../../../../shared/fixtures/images"))
src = Image.open(os.path.join(fixtures, "jpeg-progressive.jpg")).convert("RGB")
tmp = tempfile.mkdtemp()

small = src.resize((160, 120), Image.LANCZOS)
small.save(f"{tmp}/small.png")
subprocess.run(["heif-enc", "-q", "60", "-o", f"{here}/heif-small.heic", f"{tmp}/small.png"], check=True)
subprocess.run(["avifenc", "--min", "20", "--max", "30", "-s", "8", f"{tmp}/small.png", f"{here}/avif-small.avif"], check=True)

s = np.asarray(src, dtype=np.float64) / 255.0
lin = np.where(s <= 0.04045, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)
to2020 = np.array([[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]])
nits = (lin @ to2020.T) * 203.0
m1, m2, c1, c2, c3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
y = np.clip(nits / 10000.0, 0, 1) ** m1
pq = ((c1 + c2 * y) / (1 + c3 * y)) ** m2
png16 = np.round(pq * 65535).astype(">u2")
h, w, _ = png16.shape
import zlib, struct
raw = b"".join(b"\0" + png16[r].tobytes() for r in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
open(f"{tmp}/pq.png", "wb").write(png)
subprocess.run(["avifenc", "-d", "10", "-y", "444", "--cicp", "9/16/9", "-r", "full", "--min", "4", "--max", "10", "-s", "8",
                "--ignore-icc", f"{tmp}/pq.png", f"{here}/avif-pq-10bit.avif"], check=True)

flat4k, flat2k = f"{tmp}/flat4k.png", f"{tmp}/flat2k.png"
Image.new("RGB", (4096, 4096), (90, 120, 200)).save(flat4k)
Image.new("RGB", (2048, 2048), (200, 120, 90)).save(flat2k)
subprocess.run(["avifenc", "-s", "10", "--min", "40", "--max", "63", flat4k, f"{here}/avif-flat-4096.avif"], check=True)
subprocess.run(["heif-enc", "-q", "10", "-o", f"{here}/heif-flat-2048.heic", flat2k], check=True)
