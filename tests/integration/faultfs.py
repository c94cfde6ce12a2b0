#!/usr/bin/python3
"""A FUSE pass-through file system that fails on command, for real-fault tests.

usage: faultfs.py BACKING MOUNTPOINT CONTROL

Every file under MOUNTPOINT is the file of the same name under BACKING. The
first word of the file CONTROL (read at each operation) says how writes fare:
  ok         pass through
  eio        every write, truncate and fsync fails with EIO
  rofs       every write, truncate and fsync fails with EROFS, as on a file
             system remounted read-only under the program
  slow       every write waits 0.2 s first (a run that lasts, to meet mid-way)
Reads always pass. Runs in the foreground until unmounted (fusermount -u).
"""
import errno
import os
import sys
import time

from fusepy import FUSE, FuseOSError, Operations


class FaultFS(Operations):
    def __init__(self, backing, control):
        self.backing = backing
        self.control = control

    def _path(self, path):
        return os.path.join(self.backing, path.lstrip("/"))

    def _mode(self):
        try:
            with open(self.control) as f:
                return (f.read().split() or ["ok"])[0]
        except OSError:
            return "ok"

    def _check_write(self):
        mode = self._mode()
        if mode == "eio":
            raise FuseOSError(errno.EIO)
        if mode == "rofs":
            raise FuseOSError(errno.EROFS)
        if mode == "slow":
            time.sleep(0.2)

    def getattr(self, path, fh=None):
        st = os.lstat(self._path(path))
        return {k: getattr(st, k) for k in ("st_mode", "st_size", "st_uid", "st_gid", "st_nlink",
                                             "st_atime", "st_mtime", "st_ctime", "st_blocks")}

    def readdir(self, path, fh):
        return [".", ".."] + os.listdir(self._path(path))

    def open(self, path, flags):
        return os.open(self._path(path), flags)

    def create(self, path, mode, fi=None):
        self._check_write()
        return os.open(self._path(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        self._check_write()
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        self._check_write()
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._path(path), length)

    def fsync(self, path, datasync, fh):
        self._check_write()
        os.fsync(fh)
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)
        return 0

    def unlink(self, path):
        os.unlink(self._path(path))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    FUSE(FaultFS(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[3])), sys.argv[2],
         foreground=True, nothreads=True, direct_io=True)
