# Helpers of the file-system-aware tests (fs_aware.sh, fs_lvm.sh, fs_xfs.sh):
# guest files, file systems made with the Debian tools, the checks of what
# survives, and a --fs-aware compaction judged against its own dry run.
# Source after lib.sh, in the work directory, with VDSSHIM set.
FSCHECK=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/fs_check.py
export MTOOLS_SKIP_CHECK=1
MiB=$((1 << 20))

mkdir src
for i in 1 2 3 4 5 6; do head -c $((4 * MiB + i * 4321)) /dev/urandom > src/f$i; done

# make_part KIND IMAGE SIZE_MIB: a file system with f1..f6, then f2 and f4 deleted;
# dead.txt gets the deleted files' byte extents (partition-relative).
# NTFS: no Debian tool deletes a file without mounting; ntfscp of an empty
# file truncates f2 and f4 to nothing, which frees their clusters the same
# way (the data stays). exFAT: fs_check.py writes and deletes directory
# entries as the file system does (fsck.exfat judges the result).
NTFS_OPTS="" EXT_OPTS=""
make_part() {
    local kind=$1 img=$2 size=$3 f
    rm -f "$img" dead.txt
    case $kind in
    ext4|ext2)
        truncate -s "${size}M" "$img"
        mkfs.$kind -q -F -b 4096 $EXT_OPTS -d src "$img"
        for f in f2 f4; do python3 "$FSCHECK" extents ext "$img" /$f >> dead.txt; done
        debugfs -w -R "rm /f2" "$img" >/dev/null 2>&1
        debugfs -w -R "rm /f4" "$img" >/dev/null 2>&1 ;;
    fat32|fat16|fat12)
        # FAT12 has fewer than 4085 clusters: 16 KiB ones on this volume.
        mkfs.vfat -F "${kind#fat}" $([ $kind = fat12 ] && echo "-s 32") -C "$img" $((size * 1024)) >/dev/null
        mcopy -i "$img" src/f1 src/f2 src/f3 src/f4 src/f5 src/f6 ::/
        for f in f2 f4; do python3 "$FSCHECK" extents fat "$img" /$f >> dead.txt; done
        mdel -i "$img" ::/f2 ::/f4 ;;
    ntfs)
        truncate -s "${size}M" "$img"
        mkntfs -q -Q -F $NTFS_OPTS "$img" >/dev/null 2>&1
        for f in f1 f2 f3 f4 f5 f6; do ntfscp -f "$img" src/$f /$f >/dev/null 2>&1; done
        for f in f2 f4; do python3 "$FSCHECK" extents ntfs "$img" /$f >> dead.txt; done
        : > empty
        ntfscp -f "$img" empty /f2 >/dev/null 2>&1
        ntfscp -f "$img" empty /f4 >/dev/null 2>&1 ;;
    exfat)
        truncate -s "${size}M" "$img"
        mkfs.exfat "$img" >/dev/null
        for f in f1 f2 f3 f4 f5 f6; do python3 "$FSCHECK" exfat-add "$img" $f src/$f; done
        for f in f2 f4; do python3 "$FSCHECK" extents exfat "$img" /$f >> dead.txt; done
        python3 "$FSCHECK" exfat-rm "$img" f2
        python3 "$FSCHECK" exfat-rm "$img" f4 ;;
    esac
}

# into_disk DISK PART OFFSET_BYTES: copy a partition image into the raw disk.
into_disk() { dd if="$2" of="$1" bs=1M seek=$(($3 / MiB)) conv=notrunc status=none; }

# survivors KIND PARTIMG: every surviving file reads back identical; fsck clean.
survivors_ok() {   # KIND PARTIMG [FILE...]: default f1 f3 f5 f6
    local kind=$1 img=$2 f
    shift 2
    local files=${*:-f1 f3 f5 f6}
    case $kind in
    ext*) e2fsck -fn "$img" >fsck.log 2>&1 || return 1
          for f in $files; do debugfs -R "dump /$f out.$f" "$img" >/dev/null 2>&1; cmp -s out.$f src/$f || return 1; done ;;
    fat*) fsck.vfat -n "$img" >fsck.log 2>&1 || return 1
          for f in $files; do rm -f out.$f; mcopy -i "$img" ::/$f out.$f; cmp -s out.$f src/$f || return 1; done ;;
    ntfs) ntfsfix -n "$img" >fsck.log 2>&1 || return 1
          for f in $files; do ntfscat "$img" /$f | cmp -s - src/$f || return 1; done ;;
    exfat) fsck.exfat -n "$img" >fsck.log 2>&1 || return 1
          for f in $files; do python3 "$FSCHECK" exfat-cat "$img" $f | cmp -s - src/$f || return 1; done ;;
    esac
}

# compact_fs_aware DESC FILE: first compact --dry-run --fs-aware, which must
# leave the file byte for byte as it was; then the real compact --fs-aware
# (its output stays in last.out); then the dry run's estimate must equal what
# the real run did: sizes, blocks scanned, dropped and moved, and every
# volume's report (fs, used, free, reclaimed, reason).
compact_fs_aware() {
    local desc=$1 file=$2 before
    before=$(sha "$file")
    expect_rc "$desc: compact --dry-run --fs-aware" 0 "${VDSSHIM[@]}" compact --dry-run --fs-aware --json "$file"
    cp last.out dry.json
    check "$desc: ... the dry run wrote nothing" [ "$(sha "$file")" = "$before" ]
    expect_rc "$desc: compact --fs-aware" 0 "${VDSSHIM[@]}" compact --fs-aware --json "$file"
    check "$desc: ... did what the dry run said it would" /usr/bin/python3 - dry.json last.out <<'PY'
import json, sys
def load(path):
    lines = [json.loads(l) for l in open(path, encoding="utf-8").read().replace("\r", "").splitlines() if l.strip()]
    result = lines[0]
    volumes = lines[1]["volumes"] if len(lines) > 1 else []
    return result, volumes
(dry, dvol), (real, rvol) = load(sys.argv[1]), load(sys.argv[2])
keys = ["status", "size_before", "size_after", "reclaimed", "blocks_scanned", "blocks_dropped", "blocks_moved"]
bad = [k for k in keys if dry[k] != real[k]]
if dry["bytes_written"] != 0 or dry["dry_run"] is not True or real["dry_run"] is not False:
    bad.append("bytes_written/dry_run")
if dvol != rvol:
    bad.append("volumes")
if bad:
    print("# dry run and real run differ in", ", ".join(bad))
    print("# dry:", json.dumps(dry), json.dumps(dvol))
    print("# real:", json.dumps(real), json.dumps(rvol))
sys.exit(1 if bad else 0)
PY
}

