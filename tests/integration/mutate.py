#!/usr/bin/env python3
"""Write N mutants of a VHD or VHDX image for the CLI bad-input test.

usage: mutate.py BASE OUT_PREFIX N SEED

Mutations: bit flips, truncations, and swaps of two aligned fields. Two in
three land in the structures (found by parsing the base image: VHD footer,
its copy, dynamic header and BAT; VHDX headers, region tables, log,
metadata and BAT), the rest anywhere. Prints "NAME DESCRIPTION" per mutant.
"""
import random
import struct
import sys


def structure_zones(data):
    size = len(data)
    if data[:8] == b'vhdxfile':
        zones = [(0, min(size, 320 << 10))]
        head = data[64 << 10:68 << 10]
        log_len, log_off = struct.unpack('<IQ', head[68:80])
        zones.append((log_off, log_len))
        region = data[192 << 10:256 << 10]
        for i in range(min(struct.unpack('<I', region[8:12])[0], 8)):
            e = region[16 + 32 * i:48 + 32 * i]
            off, length = struct.unpack('<QI', e[16:28])
            zones.append((off, min(length, 256 << 10)))
    else:
        zones = [(0, 512), (size - 512, 512)]
        dyn = struct.unpack('>Q', data[-512 + 16:-512 + 24])[0]
        if dyn < size:
            zones.append((dyn, 1024))
            bat = struct.unpack('>Q', data[dyn + 16:dyn + 24])[0]
            zones.append((bat, 4096))
    return [(o, n) for o, n in zones if 0 <= o < size and n > 0]


def offset(rng, data, zones):
    if zones and rng.random() < 2 / 3:
        o, n = rng.choice(zones)
        return min(o + rng.randrange(n), len(data) - 1)
    return rng.randrange(len(data))


def mutate(rng, base, zones):
    data = bytearray(base)
    kind = rng.choice(['flip', 'flip', 'flip', 'truncate', 'swap'])
    if kind == 'flip':
        at = []
        for _ in range(rng.randint(1, 8)):
            o = offset(rng, data, zones)
            data[o] ^= 1 << rng.randrange(8)
            at.append(o)
        return bytes(data), 'flip at %s' % ','.join(map(str, at))
    if kind == 'truncate':
        n = rng.choice([rng.randrange(len(data)), len(data) - rng.randrange(1, 4096)])
        return bytes(data[:n]), 'truncate to %d' % n
    width = rng.choice([2, 4, 8])
    a = offset(rng, data, zones) & ~(width - 1)
    b = offset(rng, data, zones) & ~(width - 1)
    if a + width > len(data) or b + width > len(data):
        a = b = 0
    data[a:a + width], data[b:b + width] = data[b:b + width], data[a:a + width]
    return bytes(data), 'swap %d-byte fields at %d and %d' % (width, a, b)


def main():
    base_path, prefix, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    base = open(base_path, 'rb').read()
    zones = structure_zones(base)
    rng = random.Random(seed)
    for i in range(n):
        data, what = mutate(rng, base, zones)
        name = '%s%03d' % (prefix, i)
        with open(name, 'wb') as f:
            f.write(data)
        print(name, what)


if __name__ == '__main__':
    main()
