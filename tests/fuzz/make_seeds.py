#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from real images at run time.

usage: make_seeds.py OUT_DIR SHARED_IMAGES_DIR

Writes OUT_DIR/<target>/<name> for every target in tests/fuzz. Sources: small
VHD and VHDX images made here with qemu-img/qemu-io (dynamic, fixed, with
data, zero and discarded blocks), and the images in SHARED_IMAGES_DIR (read
in place, never copied into the project). Image targets take the sparse form
described in fuzz.h, capped so that each seed stays small.
"""
import lzma
import os
import struct
import subprocess
import sys
import tempfile

MAX_FILE = 16 << 20          # FUZZ_MAX_FILE in fuzz.h
MAX_SEED = 256 << 10          # bytes of records per seed
TAIL = 64 << 10              # always kept: a VHD's footer lives at the end


def runs(data, start, end, page=4096):
    """Non-zero runs of data[start:end], found a page at a time (images are large)."""
    zero = bytes(page)
    lo = None
    for p in range(start - start % page, end, page):
        a, b = max(p, start), min(p + page, end)
        chunk = data[a:b]
        if chunk == zero[:b - a]:
            if lo is not None:
                yield lo, hi
                lo = None
            continue
        first = a + (len(chunk) - len(chunk.lstrip(b'\0')))
        last = a + len(chunk.rstrip(b'\0'))
        if lo is None:
            lo = first
        elif first > hi + 32:
            yield lo, hi
            lo = first
        hi = last
    if lo is not None:
        yield lo, hi


def sparse(data):
    size = min(len(data), MAX_FILE)
    out = bytearray(struct.pack('<I', size))
    tail_at = max(0, size - TAIL)
    budget = MAX_SEED
    for lo, hi in list(runs(data, 0, tail_at)) + list(runs(data, tail_at, size)):
        keep = lo >= tail_at
        while lo < hi:
            n = min(hi - lo, 0xffff)
            if not keep and budget < n:
                break
            out += struct.pack('<IH', lo, n) + data[lo:lo + n]
            budget -= n
            lo += n
    return bytes(out)


def vhd_structs(data):
    if len(data) < 512:
        return None
    footer = data[-512:]
    if footer[:8] != b'conectix':
        footer = data[:512]
    off = struct.unpack('>Q', footer[16:24])[0]
    dyn = data[off:off + 1024] if off + 1024 <= len(data) else b''
    return footer + dyn


def vhdx_structs(data):
    """The current header, the region table, then the metadata region."""
    if len(data) < 256 << 10 or data[:8] != b'vhdxfile':
        return None
    h1, h2 = data[64 << 10:68 << 10], data[128 << 10:132 << 10]
    seq = lambda h: struct.unpack('<Q', h[8:16])[0] if h[:4] == b'head' else -1
    head = h1 if seq(h1) >= seq(h2) else h2
    region = data[192 << 10:256 << 10]
    meta = b''
    count = struct.unpack('<I', region[8:12])[0]
    for i in range(min(count, 2047)):
        e = region[16 + 32 * i:48 + 32 * i]
        if e[:16] == bytes.fromhex('06a27c8b90479a4bb8fe575f050f886e'):
            off, length = struct.unpack('<QI', e[16:28])
            meta = data[off:off + min(length, 1 << 20)].rstrip(b'\0')
            meta += bytes(-len(meta) % 4096)     # the region ends on a 4 KiB boundary, zeros trimmed
    return head + region + meta


def write(out, target, name, blob):
    if blob:
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, name), 'wb') as f:
            f.write(blob)


def add_image(out, name, data):
    s = sparse(data)
    # The same image again with FUZZ_REPAIR_CHECKSUMS (bit 31 of the size, fuzz.h),
    # so that mutations of checksummed structures get past their checksums.
    r = bytearray(s)
    r[3] |= 0x80
    for target in ('image_read', 'image_compact', 'image_expand'):
        write(out, target, name, s)
        write(out, target, name + '+crc', bytes(r))
    write(out, 'vhd_structs', name, vhd_structs(data))
    write(out, 'vhdx_structs', name, vhdx_structs(data))


def qemu_images(tmp):
    """(name, path) of small images in both formats, with every block state qemu makes."""
    writes = ['write -P 0x5a 0 4k', 'write -P 0xa5 1536k 4k', 'write -z 3m 1m',
              'write -P 0x11 5m 512', 'discard 5m 1m', 'write -P 0x77 7m 8k']
    cases = [('vpc-dynamic', 'vpc', 'subformat=dynamic'),
             ('vpc-fixed', 'vpc', 'subformat=fixed'),
             ('vhdx-1m', 'vhdx', 'block_size=1M'),
             ('vhdx-zero-off', 'vhdx', 'block_size=1M,block_state_zero=off'),
             ('vhdx-8m', 'vhdx', 'block_size=8M,log_size=1M')]
    for name, fmt, opts in cases:
        path = os.path.join(tmp, name)
        subprocess.run(['qemu-img', 'create', '-q', '-f', fmt, '-o', opts, path, '8M'], check=True)
        if name != 'vhdx-8m':
            for w in writes:
                subprocess.run(['qemu-io', '-f', fmt, '-c', w, path], check=True, stdout=subprocess.DEVNULL)
        yield name, path


def fs_images(tmp):
    """Raw disks holding each file system the maps read, with partition tables."""
    import shutil
    have = lambda t: shutil.which(t) is not None
    src = os.path.join(tmp, 'src')
    os.makedirs(src, exist_ok=True)
    for i in range(3):
        with open(os.path.join(src, 'f%d' % i), 'wb') as f:
            f.write(os.urandom(300000 + 1000 * i))
    def part(name, make):
        img = os.path.join(tmp, name + '.part')
        with open(img, 'wb') as f:
            f.truncate(6 << 20)
        if subprocess.run(make(img), capture_output=True).returncode == 0:
            yield name + '-whole', open(img, 'rb').read()
            disk = bytearray(8 << 20)
            disk[1 << 20:(1 << 20) + (6 << 20)] = open(img, 'rb').read()
            # An MBR with one partition at 1 MiB.
            struct.pack_into('<B3sB3sII', disk, 446, 0, b'\0\0\0', 0x83, b'\0\0\0', 2048, 12288)
            disk[510:512] = b'\x55\xaa'
            yield name + '-mbr', bytes(disk)
            # GPT, and a logical partition behind an extended one (sfdisk writes the tables).
            if have('sfdisk'):
                for layout, size, script, at in (
                        ('gpt', 8, 'label: gpt\nstart=2048, size=12288\n', 2048),
                        ('logical', 12, 'start=2048, size=2048, type=83\nstart=4096, type=5\nstart=6144, type=83\n',
                         6144)):
                    path = os.path.join(tmp, name + '.' + layout)
                    with open(path, 'wb') as f:
                        f.truncate(size << 20)
                    if subprocess.run(['sfdisk', '-q', path], input=script.encode(), capture_output=True).returncode:
                        continue
                    disk = bytearray(open(path, 'rb').read())
                    disk[at * 512:at * 512 + (6 << 20)] = open(img, 'rb').read()
                    yield name + '-' + layout, bytes(disk)
    cmds = []
    if have('mkfs.ext4'):
        cmds.append(('ext4', lambda i: ['mkfs.ext4', '-q', '-F', '-b', '1024', '-d', src, i]))
        cmds.append(('ext2', lambda i: ['mkfs.ext2', '-q', '-F', i]))
    if have('mkfs.vfat'):
        cmds.append(('fat16', lambda i: ['mkfs.vfat', '-F', '16', i]))
        cmds.append(('fat12', lambda i: ['mkfs.vfat', '-F', '12', i]))
    if have('mkntfs'):
        cmds.append(('ntfs', lambda i: ['mkntfs', '-q', '-Q', '-F', i]))
    if have('mkfs.exfat'):
        cmds.append(('exfat', lambda i: ['mkfs.exfat', i]))
    for name, make in cmds:
        yield from part(name, make)
    yield from xfs_images(tmp)
    yield from lvm_images(tmp)


def xfs_images(tmp):
    """XFS v5 and v4 on a whole disk: mkfs.xfs makes volumes under 300 MB only
    in its test mode (the environment of xfstests)."""
    import shutil
    if not shutil.which('mkfs.xfs'):
        return
    env = dict(os.environ, TEST_DIR='1', TEST_DEV='1', QA_CHECK_FS='1')
    for name, opts in (('xfs5', []), ('xfs4', ['-m', 'crc=0'])):
        img = os.path.join(tmp, name + '.img')
        with open(img, 'wb') as f:
            f.truncate(MAX_FILE)            # mkfs.xfs's smallest: 4096 blocks
        if subprocess.run(['mkfs.xfs', '-q', '-f', '-l', 'size=1368b'] + opts + [img], env=env,
                          capture_output=True).returncode == 0:
            yield name + '-whole', open(img, 'rb').read()


def lvm_images(tmp):
    """An LVM2 PV on a whole disk (lvm2 on a loop device: root only) with two
    linear LVs, one of two segments holding ext2."""
    import shutil
    if os.geteuid() or not shutil.which('pvcreate') or not shutil.which('losetup'):
        return
    img = os.path.join(tmp, 'lvm.img')
    with open(img, 'wb') as f:
        f.truncate(12 << 20)
    loop = subprocess.run(['losetup', '-f', '--show', img], capture_output=True, text=True).stdout.strip()
    if not loop:
        return
    env = dict(os.environ, LVM_SUPPRESS_FD_WARNINGS='1', LVM_SYSTEM_DIR=tmp)
    lvm = lambda *a: subprocess.run([a[0], '--devices', loop, '--driverloaded', 'n'] + list(a[1:]), env=env,
                                    capture_output=True).returncode == 0
    ok = (lvm('pvcreate', '-q', loop) and lvm('vgcreate', '-q', '-s', '1M', 'vg', loop)
          and lvm('lvcreate', '-q', '-an', '-Zn', '-L', '2M', '-n', 'a', 'vg')
          and lvm('lvcreate', '-q', '-an', '-Zn', '-L', '3M', '-n', 'b', 'vg')
          and lvm('lvextend', '-q', '-L', '+2M', 'vg/a'))
    subprocess.run(['losetup', '-d', loop], capture_output=True)
    if ok:
        # LV a: extents 0-1 and 5-6, 1 MiB in (pe_start); ext2 across both segments.
        disk = bytearray(open(img, 'rb').read())
        fs = os.path.join(tmp, 'lv.img')
        with open(fs, 'wb') as f:
            f.truncate(4 << 20)
        if subprocess.run(['mkfs.ext2', '-q', '-F', fs], capture_output=True).returncode == 0:
            data = open(fs, 'rb').read()
            disk[(1 << 20):(3 << 20)] = data[:2 << 20]
            disk[(6 << 20):(8 << 20)] = data[2 << 20:]
        yield 'lvm-whole', bytes(disk)


def main():
    out, shared = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in qemu_images(tmp):
            with open(path, 'rb') as f:
                add_image(out, name, f.read())
        for name, data in fs_images(tmp):
            write(out, 'fs_maps', name, sparse(data))
    for f in sorted(os.listdir(shared)) if os.path.isdir(shared) else []:
        if f.endswith('.xz'):
            with lzma.open(os.path.join(shared, f)) as z:
                data = z.read()
            add_image(out, f[:-3], data)
            # Windows' own NTFS, with the restart pages of a real $LogFile.
            if f.startswith('win10-dynamic.'):
                with tempfile.TemporaryDirectory() as tmp:
                    img, raw = os.path.join(tmp, 'img'), os.path.join(tmp, 'raw')
                    with open(img, 'wb') as g:
                        g.write(data)
                    fmt = 'vhdx' if f.endswith('.vhdx.xz') else 'vpc'
                    if subprocess.run(['qemu-img', 'convert', '-f', fmt, '-O', 'raw', img, raw],
                                      capture_output=True).returncode == 0:
                        write(out, 'fs_maps', 'guest-' + f[:-3], sparse(open(raw, 'rb').read()))
    for t in sorted(os.listdir(out)):
        print('%s: %d seeds' % (t, len(os.listdir(os.path.join(out, t)))))


if __name__ == '__main__':
    main()
