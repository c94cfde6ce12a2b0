#!/usr/bin/env python3
"""Helpers for fs_aware.sh (file-system-aware compaction tests).

fs_check.py extents ext IMAGE PATH       byte extents of PATH in an ext* image (debugfs)
fs_check.py extents fat IMAGE PATH       byte extents of PATH in a FAT image (mshowfat + the BPB)
fs_check.py blocks EXTENTS OFFSET BLOCK  container blocks (index) lying wholly inside the extents
                                         shifted by OFFSET (the partition's start in the disk)
fs_check.py zeroed RAW BLOCKS BLOCK      how many of the listed container blocks read all zeros in RAW
fs_check.py zerocount RAW BLOCK OFF LEN  how many container blocks wholly inside [OFF, OFF+LEN) of RAW are all zeros
"""
import re
import struct
import subprocess
import sys


def ext_extents(image, path):
    out = subprocess.run(['debugfs', '-R', 'stat ' + path, image], capture_output=True, text=True).stdout
    bs = int(re.search(r'Block size:\s*(\d+)', subprocess.run(['dumpe2fs', '-h', image], capture_output=True,
                                                               text=True).stdout).group(1))
    ext = []
    for a, b in re.findall(r'\(\d+(?:-\d+)?\):(\d+)(?:-(\d+))?', out.split('EXTENTS:')[1] if 'EXTENTS:' in out
                           else out.split('BLOCKS:')[1]):
        first, last = int(a), int(b or a)
        ext.append((first * bs, (last - first + 1) * bs))
    return ext


def fat_extents(image, path):
    with open(image, 'rb') as f:
        bs = f.read(512)
    bps, spc, rsvd, nfats, root_ent = struct.unpack_from('<HBHBH', bs, 11)
    fat_sz = struct.unpack_from('<H', bs, 22)[0] or struct.unpack_from('<I', bs, 36)[0]
    data = (rsvd + nfats * fat_sz + (root_ent * 32 + bps - 1) // bps) * bps
    out = subprocess.run(['mshowfat', '-i', image, '::' + path], capture_output=True, text=True).stdout
    ext = []
    for a, b in re.findall(r'<(\d+)(?:-(\d+))?>', out):
        first, last = int(a), int(b or a)
        ext.append((data + (first - 2) * spc * bps, (last - first + 1) * spc * bps))
    return ext


def main():
    cmd = sys.argv[1]
    if cmd == 'extents':
        for s, n in (ext_extents if sys.argv[2] == 'ext' else fat_extents)(sys.argv[3], sys.argv[4]):
            print(s, n)
    elif cmd == 'blocks':
        off, bsz = int(sys.argv[3]), int(sys.argv[4])
        for line in open(sys.argv[2]):
            s, n = map(int, line.split())
            s += off
            first = (s + bsz - 1) // bsz
            while (first + 1) * bsz <= s + n:
                print(first)
                first += 1
    elif cmd == 'zeroed':
        bsz, n = int(sys.argv[4]), 0
        with open(sys.argv[2], 'rb') as f:
            for line in open(sys.argv[3]):
                f.seek(int(line) * bsz)
                n += not f.read(bsz).strip(b'\0')
        print(n)
    elif cmd == 'zerocount':
        bsz, off, length = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        b, n = (off + bsz - 1) // bsz, 0
        with open(sys.argv[2], 'rb') as f:
            while (b + 1) * bsz <= off + length:
                f.seek(b * bsz)
                n += not f.read(bsz).strip(b'\0')
                b += 1
        print(n)

if __name__ == '__main__':
    main()
