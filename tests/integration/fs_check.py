#!/usr/bin/env python3
"""Helpers for fs_aware.sh (file-system-aware compaction tests).

fs_check.py extents ext IMAGE PATH       byte extents of PATH in an ext* image (debugfs)
fs_check.py extents fat IMAGE PATH       byte extents of PATH in a FAT image (mshowfat + the BPB)
fs_check.py extents ntfs IMAGE PATH      byte extents of PATH's data in an NTFS image (ntfsinfo's runlist)
fs_check.py extents exfat IMAGE PATH     byte extents of PATH in an exFAT image (its directory entry)
fs_check.py exfat-add IMAGE NAME SRC     write SRC into the root directory as NAME (contiguous, NoFatChain)
fs_check.py exfat-rm IMAGE NAME          delete NAME as exFAT does: entries marked unused, bitmap bits cleared,
                                         the data left where it was
fs_check.py exfat-cat IMAGE NAME         NAME's contents to stdout
fs_check.py ntfs-log IMAGE clean|unclean write $LogFile restart pages saying the volume was (not) shut down cleanly
fs_check.py ntfs-log IMAGE dirty         clear the clean flag in the restart pages already there (as after a crash)
fs_check.py blocks EXTENTS OFFSET BLOCK  container blocks (index) lying wholly inside the extents
                                         shifted by OFFSET (the partition's start in the disk)
fs_check.py zeroed RAW BLOCKS BLOCK      how many of the listed container blocks read all zeros in RAW
fs_check.py zerocount RAW BLOCK OFF LEN  how many container blocks wholly inside [OFF, OFF+LEN) of RAW are all zeros
fs_check.py remap SEGMENTS EXTENTS       volume-relative byte extents as disk extents, through an LVM2 LV's
                                         segments ("vol_off disk_off len" lines, from lvs)
fs_check.py lv-get RAW SEGMENTS OUT      the LV's bytes, segment by segment, into OUT
fs_check.py lv-put RAW SEGMENTS IMAGE    IMAGE written into the LV's segments of RAW
fs_check.py outside OFFSET SIZE RANGES   the "start len" ranges of [OFFSET, OFFSET+SIZE) that RANGES (relative
                                         to OFFSET) leave out
fs_check.py same-ranges A B RANGES       exit 0 if A and B hold the same bytes in every "start len" range
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


def ntfs_extents(image, path):
    info = subprocess.run(['ntfsinfo', '-m', image], capture_output=True, text=True).stdout
    cs = int(re.search(r'Cluster Size:\s*(\d+)', info).group(1))
    out = subprocess.run(['ntfsinfo', '-v', '-F', path, image], capture_output=True, text=True).stdout
    data = out.split('Dumping attribute $DATA')[1]
    size = int(re.search(r'Data size:\s*(\d+)', data, re.I).group(1))
    runs = data.split('Runlist:')[1].split('End of inode')[0]
    return clip([(int(lcn, 16) * cs, int(n, 16) * cs)
                 for _, lcn, n in re.findall(r'(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)', runs)], size)


def clip(extents, size):
    """The extents holding a file's first size bytes (its data, not the slack of its last cluster)."""
    out = []
    for start, n in extents:
        if size <= 0:
            break
        out.append((start, min(n, size)))
        size -= n
    return out


def ntfs_log(image, clean):
    """Both restart pages of $LogFile (found with ntfsinfo), with update-sequence fixups."""
    info = subprocess.run(['ntfsinfo', '-m', image], capture_output=True, text=True).stdout
    cs = int(re.search(r'Cluster Size:\s*(\d+)', info).group(1))
    out = subprocess.run(['ntfsinfo', '-v', '-i', '2', image], capture_output=True, text=True).stdout
    lcn = int(re.findall(r'(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)', out.split('Runlist:')[1])[0][1], 16)
    with open(image, 'r+b') as f:
        if clean == 'dirty':
            for k in (0, 1):
                f.seek(lcn * cs + k * 4096)
                page = f.read(32)
                assert page[:4] == b'RSTR', 'no restart page to dirty'
                ra = lcn * cs + k * 4096 + struct.unpack_from('<H', page, 24)[0]
                f.seek(ra + 14)
                flags = struct.unpack('<H', f.read(2))[0]
                f.seek(ra + 14)
                f.write(struct.pack('<H', flags & ~2))
            return
        for k, lsn in ((0, 0x1000), (1, 0x2000)):
            page = bytearray(4096)
            page[0:4] = b'RSTR'
            struct.pack_into('<HHQIIHhh', page, 4, 0x1e, 9, 0, 4096, 4096, 0x30, 1, 1)
            # restart area: current LSN, 1 client, free list none, in-use list, flags
            in_use, flags = (0xffff, 0) if clean == 'clean' else (0, 0)
            struct.pack_into('<QHHHH', page, 0x30, lsn, 1, 0xffff, in_use, flags)
            struct.pack_into('<H', page, 0x1e, 7)                  # update sequence number
            for i in range(1, 9):
                page[0x1e + 2 * i:0x20 + 2 * i] = page[i * 512 - 2:i * 512]
                page[i * 512 - 2:i * 512] = page[0x1e:0x20]
            f.seek(lcn * cs + k * 4096)
            f.write(page)


class ExFat:
    """Just enough exFAT to add, delete and read files in the root directory."""

    def __init__(self, image):
        self.f = open(image, 'r+b')
        b = self.read(0, 512)
        self.fat, self.heap, self.count, self.root = struct.unpack_from('<I4xIII', b, 80)
        self.bps = 1 << b[108]
        self.cs = self.bps << b[109]
        self.root_clusters = []
        c = self.root
        while 2 <= c < 0xFFFFFFF7:
            self.root_clusters.append(c)
            c = struct.unpack('<I', self.read(self.fat * self.bps + 4 * c, 4))[0]
        for off, e in self.entries():
            if e[0] == 0x81:
                self.bm_first, self.bm_len = struct.unpack_from('<IQ', e, 20)
        self.bitmap = bytearray(self.read(self.at(self.bm_first), self.bm_len))

    def read(self, off, n):
        self.f.seek(off)
        return self.f.read(n)

    def write(self, off, data):
        self.f.seek(off)
        self.f.write(data)

    def at(self, cluster):
        return self.heap * self.bps + (cluster - 2) * self.cs

    def entries(self):
        for c in self.root_clusters:
            for i in range(self.cs // 32):
                off = self.at(c) + 32 * i
                yield off, self.read(off, 32)

    @staticmethod
    def rot(h, b):
        return ((h >> 1) | ((h & 1) << 15)) + b & 0xFFFF

    def find(self, name):
        ents = list(self.entries())
        for i, (off, e) in enumerate(ents):
            if e[0] == 0x85:
                n = ents[i + 1][1][3]
                got = b''.join(ents[i + 2 + k][1][2:32] for k in range(e[1] - 1)).decode('utf-16-le')[:n]
                if got == name:
                    return [ents[i + k][0] for k in range(e[1] + 1)], ents[i + 1][1]
        raise SystemExit('exfat: no ' + name)

    def add(self, name, data):
        n = max(1, -(-len(data) // self.cs))
        run = 0
        for k in range(self.count):
            run = run + 1 if not self.bitmap[k >> 3] & (1 << (k & 7)) else 0
            if run == n:
                first = k - n + 3
                break
        else:
            raise SystemExit('exfat: no room')
        for k in range(first - 2, first - 2 + n):
            self.bitmap[k >> 3] |= 1 << (k & 7)
        self.write(self.at(first), data)
        up = name.upper().encode('utf-16-le')
        h = 0
        for b in up:
            h = self.rot(h, b)
        stamp = (44 << 25) | (1 << 21) | (1 << 16)
        fe = struct.pack('<BBHHHIII', 0x85, 2, 0, 0x20, 0, stamp, stamp, stamp) + bytes(12)
        se = struct.pack('<BBBBHHQIIQ', 0xC0, 3, 0, len(name), h, 0, len(data), 0, first, len(data))
        ne = struct.pack('<BB', 0xC1, 0) + name.encode('utf-16-le').ljust(30, b'\0')
        entry_set = bytearray(fe + se + ne)
        chk = 0
        for i, b in enumerate(entry_set):
            if i not in (2, 3):
                chk = self.rot(chk, b)
        struct.pack_into('<H', entry_set, 2, chk)
        slot = next(off for off, e in self.entries() if e[0] == 0)
        self.write(slot, entry_set)
        self.write(self.at(self.bm_first), self.bitmap)

    def remove(self, name):
        offs, se = self.find(name)
        first, length = struct.unpack_from('<IQ', se, 20)
        for off in offs:
            self.write(off, bytes([self.read(off, 1)[0] & 0x7F]))
        for k in range(first - 2, first - 2 + max(1, -(-length // self.cs))):
            self.bitmap[k >> 3] &= ~(1 << (k & 7))
        self.write(self.at(self.bm_first), self.bitmap)

    def extents(self, name):
        first, length = struct.unpack_from('<IQ', self.find(name)[1], 20)
        return [(self.at(first), length)]

    def cat(self, name):
        first, length = struct.unpack_from('<IQ', self.find(name)[1], 20)
        return self.read(self.at(first), length)


def segments(path):
    return [tuple(map(int, line.split())) for line in open(path) if line.strip()]


def remap(segs, start, length):
    """Disk extents of volume bytes [start, start + length)."""
    out = []
    for vol, disk, n in segs:
        a, b = max(start, vol), min(start + length, vol + n)
        if a < b:
            out.append((disk + a - vol, b - a))
    return out


def lv_io(cmd, raw, segs, other):
    """Copy an LV out of RAW or into it, 1 MiB at a time; out of it sparsely
    (an LV of a 10 GiB disk is mostly never written)."""
    chunk = 1 << 20
    with open(raw, 'rb' if cmd == 'lv-get' else 'r+b') as disk, open(other, 'wb' if cmd == 'lv-get' else 'rb') as img:
        for vol, at, n in sorted(segs):
            for k in range(0, n, chunk):
                m = min(chunk, n - k)
                src, dst = (disk, img) if cmd == 'lv-get' else (img, disk)
                src.seek((at if cmd == 'lv-get' else vol) + k)
                data = src.read(m)
                dst.seek((vol if cmd == 'lv-get' else at) + k)
                if cmd == 'lv-put' or data.strip(b'\0'):
                    dst.write(data)
        if cmd == 'lv-get':
            img.truncate(sum(n for _, _, n in segs))


def same_ranges(a, b, ranges):
    """Do files a and b hold the same bytes in every "start len" range?"""
    with open(a, 'rb') as x, open(b, 'rb') as y:
        for line in open(ranges):
            start, n = map(int, line.split())
            x.seek(start)
            y.seek(start)
            if x.read(n) != y.read(n):
                return False
    return True


def main():
    cmd = sys.argv[1]
    if cmd == 'extents':
        kind = sys.argv[2]
        if kind == 'exfat':
            ext = ExFat(sys.argv[3]).extents(sys.argv[4].lstrip('/'))
        else:
            ext = {'ext': ext_extents, 'fat': fat_extents, 'ntfs': ntfs_extents}[kind](sys.argv[3], sys.argv[4])
        for s, n in ext:
            print(s, n)
    elif cmd == 'exfat-add':
        ExFat(sys.argv[2]).add(sys.argv[3], open(sys.argv[4], 'rb').read())
    elif cmd == 'exfat-rm':
        ExFat(sys.argv[2]).remove(sys.argv[3])
    elif cmd == 'exfat-cat':
        sys.stdout.buffer.write(ExFat(sys.argv[2]).cat(sys.argv[3]))
    elif cmd == 'ntfs-log':
        ntfs_log(sys.argv[2], sys.argv[3])
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
    elif cmd == 'remap':
        for line in open(sys.argv[3]):
            for s, n in remap(segments(sys.argv[2]), *map(int, line.split())):
                print(s, n)
    elif cmd in ('lv-get', 'lv-put'):
        lv_io(cmd, sys.argv[2], segments(sys.argv[3]), sys.argv[4])
    elif cmd == 'outside':
        at, end = int(sys.argv[2]), int(sys.argv[2]) + int(sys.argv[3])
        pos = at
        for s, n in sorted(tuple(map(int, line.split())) for line in open(sys.argv[4]) if line.strip()):
            if at + s > pos:
                print(pos, at + s - pos)
            pos = max(pos, at + s + n)
        if end > pos:
            print(pos, end - pos)
    elif cmd == 'same-ranges':
        sys.exit(0 if same_ranges(sys.argv[2], sys.argv[3], sys.argv[4]) else 1)

if __name__ == '__main__':
    main()
