#!/usr/bin/env bash
# LVM2 in compact --fs-aware. First the disk Windows made for an Ubuntu VM
# (../shared/images/win10-unmapped-lvm.vhdx: GPT, one PV, three linear LVs
# of two and three segments holding ext3, FAT32 and a dirty NTFS). Then
# disks made here with Debian's lvm2 on loop devices (no device-mapper
# needed: --driverloaded n, nothing is activated; the file systems are
# written into the LVs' extents as lvs reports them): a volume group over
# two PVs (one with two metadata copies) whose LVs span both, hold ext4, FAT
# and swap, and leave extents of a removed LV free with stale data in them;
# a PV on the whole disk. Checks: the deleted files' blocks and the free
# extents read zeros (qemu), every file system checks clean with its files
# identical, and the LVM2 metadata reads as before (lvm2's own pvck and
# vgcfgbackup). Then each fall-back: a striped LV, a snapshot's origin, a
# PV missing from the disk, metadata that fails its checksum, two metadata
# copies that disagree, a shared volume group: the guest reads what it read.
# usage: fs_lvm.sh WORKDIR SHARED_IMAGES_DIR VDSSHIM...
WORK=$1; SHARED=$2; shift 2
VDSSHIM=("$@")
. "$(dirname "$0")/lib.sh"
mkdir -p "$WORK" && cd "$WORK" || exit 1
rm -rf ./*
. "$(dirname "$0")/fs_lib.sh"
export LVM_SUPPRESS_FD_WARNINGS=1 LVM_SYSTEM_DIR="$PWD/lvm-etc"
mkdir -p lvm-etc

# --- The Windows-made disk ------------------------------------------------
# Its LVs' extents (4 MiB each) on the PV, whose extents start 2 MiB into the disk.
segs_of() {   # LV: "vol_off disk_off len" lines
    local pe n at=0
    case $1 in
    vol01) set -- 0 256 512 50 ;;
    fat)   set -- 562 128 285 25 946 25 ;;
    ntfs)  set -- 690 256 310 25 ;;
    esac
    while [ $# -gt 0 ]; do
        echo "$at $((2 * MiB + $1 * 4 * MiB)) $(($2 * 4 * MiB))"; at=$((at + $2 * 4 * MiB)); shift 2
    done
}
if unpack win10-unmapped-lvm.vhdx; then
    qemu-img convert -f vhdx -O raw win10-unmapped-lvm.vhdx before.raw
    cp win10-unmapped-lvm.vhdx offline.vhdx
    expect_rc "Windows' LVM2 disk: compact (offline mode)" 0 "${VDSSHIM[@]}" compact --quiet offline.vhdx
    for lv in vol01 fat ntfs; do segs_of $lv > $lv.segs; python3 "$FSCHECK" lv-get before.raw $lv.segs before-$lv.img; done
    check "Windows' LVM2 disk: its ext3 and FAT32 LVs check clean before" \
        bash -c "e2fsck -fn before-vol01.img >/dev/null 2>&1 && fsck.vfat -n before-fat.img >/dev/null 2>&1"
    mkdir -p files-ext3 files-fat
    debugfs -R "rdump / files-ext3" before-vol01.img >/dev/null 2>&1
    mcopy -s -i before-fat.img ::/ files-fat/ 2>/dev/null
    compact_fs_aware "Windows' LVM2 disk" win10-unmapped-lvm.vhdx
    check "... reports the PV and its three LVs, each as it is" /usr/bin/python3 - last.out <<'PY'
import json, sys
vols = json.loads(open(sys.argv[1]).read().replace("\r", "").splitlines()[1])["volumes"]
got = [(v["volume"], v["fs"], v["used"], v["free"]) for v in vols]
want = [("GPT 1", "LVM2 PV", True, 1794 * 4 << 20), ("LV test/vol01", "ext3", True, got[1][3]),
        ("LV test/fat", "FAT32", True, got[2][3]), ("LV test/ntfs", "NTFS", False, 0)]
ok = got == want and got[1][3] > 0 and got[2][3] > 0 and "dirty" in vols[3]["reason"]
if not ok: print("# got", got, vols[3]["reason"])
sys.exit(0 if ok else 1)
PY
    check "... ends smaller than offline mode leaves it ($(file_size win10-unmapped-lvm.vhdx) < $(file_size offline.vhdx))" \
        [ "$(file_size win10-unmapped-lvm.vhdx)" -lt "$(file_size offline.vhdx)" ]
    expect_rc "... qemu-img check finds it clean" 0 qemu-img check -f vhdx win10-unmapped-lvm.vhdx
    qemu-img convert -f vhdx -O raw win10-unmapped-lvm.vhdx after.raw
    for lv in vol01 fat ntfs; do python3 "$FSCHECK" lv-get after.raw $lv.segs after-$lv.img; done
    check "... the ext3 LV checks clean and its files are identical" bash -c \
        "e2fsck -fn after-vol01.img >/dev/null 2>&1 && rm -rf x && mkdir x && debugfs -R 'rdump / x' after-vol01.img >/dev/null 2>&1 && diff -r files-ext3 x"
    check "... the FAT32 LV checks clean and its files are identical" bash -c \
        "fsck.vfat -n after-fat.img >/dev/null 2>&1 && rm -rf y && mkdir y && mcopy -s -i after-fat.img ::/ y/ 2>/dev/null && diff -r files-fat y"
    check "... the dirty NTFS LV is byte for byte as it was" cmp -s before-ntfs.img after-ntfs.img
    check "... the label, the metadata and the first extents' start read as before" cmp -s -n $((2 * MiB)) before.raw after.raw
    rm -rf ./*.raw ./*.img x y files-* win10-unmapped-lvm.vhdx offline.vhdx
else
    nok "win10-unmapped-lvm.vhdx is missing from $SHARED"
fi

# --- Disks made with lvm2 -------------------------------------------------
if ! L=$(losetup -f 2>/dev/null) || ! command -v pvcreate >/dev/null; then
    nok "loop devices or lvm2 unavailable here: the lvm2-made disks were not tested"
    finish; exit
fi
LOOPS=()
trap 'for l in "${LOOPS[@]}"; do losetup -d "$l" 2>/dev/null; done' EXIT
# attach DISK: one loop device per partition (or the whole disk when it has none).
attach() {
    local start size parts
    parts=$(sfdisk -d "$1" 2>/dev/null | sed -n 's/.*start= *\([0-9]*\), size= *\([0-9]*\).*/\1 \2/p')
    [ -n "$parts" ] || parts="0 $(($(file_size "$1") / 512))"
    while read -r start size; do
        LOOPS+=("$(losetup -f --show -o $((start * 512)) --sizelimit $((size * 512)) "$1")")
        OFF[${LOOPS[-1]}]=$((start * 512))
    done <<< "$parts"
}
pvck_all() { local l; for l in "${LOOPS[@]}"; do lvm_ pvck "$l" || return 1; done; }
detach() { for l in "${LOOPS[@]}"; do losetup -d "$l"; done; LOOPS=(); }
declare -A OFF
lvm_() { local c=$1; shift; "$c" --devices "$(IFS=,; echo "${LOOPS[*]}")" --driverloaded n "$@" 2>lvm.err; }
# lv_segs VG/LV: its segments as "vol_off disk_off len", from lvs and pvs.
lv_segs() {
    local ext start size dev pe pv ps
    declare -A pestart
    while read -r pv ps; do pestart[$pv]=$ps; done < <(lvm_ pvs --noheadings --nosuffix --units b -o pv_name,pe_start)
    ext=$(lvm_ vgs --noheadings --nosuffix --units b -o vg_extent_size "${1%/*}" | tr -d ' ')
    lvm_ lvs --noheadings --nosuffix --units b --segments -o seg_start,seg_size,devices "$1" |
    while read -r start size dev; do
        pe=${dev#*(}; pe=${pe%)}; dev=${dev%(*}
        echo "$start $((OFF[$dev] + pestart[$dev] + pe * ext)) $size"
    done
}
# pv_ranges LV: the disk ranges of every PV segment of LV ("" for the free
# ones), "start len", from pvs --segments.
pv_ranges() {
    local pv start size lv ps ext
    ext=$(lvm_ vgs --noheadings --nosuffix --units b -o vg_extent_size | head -1 | tr -d ' ')
    lvm_ pvs --noheadings --nosuffix --units b --segments -o pv_name,pe_start,pvseg_start,pvseg_size,lv_name |
    while read -r pv ps start size lv; do
        lv=${lv#[}; lv=${lv%]}          # a hidden LV is shown as [name]
        [ "$lv" = "$1" ] && echo "$((OFF[$pv] + ps + start * ext)) $((size * ext))"
    done
}
# put_fs KIND VG/LV: make_part's file system (or an empty one) written into the LV.
put_fs() {
    local kind=$1 lv=$2 mib
    lv_segs "$lv" > "${lv#*/}.segs"
    mib=$(( $(awk '{n += $3} END {print n}' "${lv#*/}.segs") / MiB ))
    case $kind in
    swap) python3 "$FSCHECK" lv-get disk.raw "${lv#*/}.segs" part.img; mkswap -q part.img >/dev/null ;;
    empty-ext4) python3 "$FSCHECK" lv-get disk.raw "${lv#*/}.segs" part.img; mkfs.ext4 -q -F part.img ;;
    *) make_part "$kind" part.img "$mib"; python3 "$FSCHECK" remap "${lv#*/}.segs" dead.txt > "${lv#*/}.dead" ;;
    esac
    python3 "$FSCHECK" lv-put disk.raw "${lv#*/}.segs" part.img
    cp part.img "${lv#*/}.before"
}

# Two PVs in a GPT (the second with a metadata copy at its end too), stale
# random data everywhere as a used disk has; data (ext4) and fat span both
# or leave gaps, swap lies between; spare is made and removed: its extents
# are free and still hold its bytes.
head -c $((160 * MiB)) /dev/urandom > disk.raw
printf 'label: gpt\nstart=2048, size=204800\nstart=206848, size=114688\n' | sfdisk -q disk.raw
attach disk.raw
P1=${LOOPS[0]} P2=${LOOPS[1]}
lvm_ pvcreate -q "$P1" && lvm_ pvcreate -q --pvmetadatacopies 2 "$P2" && lvm_ vgcreate -q -s 4M vg "$P1" "$P2" \
    && lvm_ lvcreate -q -an -Zn -L 40M -n data vg "$P1" && lvm_ lvcreate -q -an -Zn -L 8M -n spare vg "$P1" \
    && lvm_ lvcreate -q -an -Zn -L 32M -n fat vg "$P1" && lvm_ lvcreate -q -an -Zn -L 8M -n swap vg "$P2" \
    && lvm_ lvextend -q -L +16M vg/data "$P2" && lvm_ lvextend -q -L +8M vg/fat "$P2" && lvm_ lvremove -q -f vg/spare
check "lvm2 made a volume group over two PVs with LVs that span them" [ $? -eq 0 ]
put_fs ext4 vg/data
put_fs fat16 vg/fat
put_fs swap vg/swap
# The free extents: where spare was, and the rest of each PV.
pv_ranges "" > free-extents.txt
lvm_ vgcfgbackup -q -f meta-before.txt vg
detach
cp disk.raw base.raw
check "the volume group has free extents with stale data ($(wc -l < free-extents.txt) runs)" [ -s free-extents.txt ]

lvm_disk() {   # FORMAT BLOCK
    local fmt=$1 bsz=$2 qfmt opts nd nf
    qfmt=$([ "$fmt" = vhd ] && echo vpc || echo vhdx)
    opts=$([ "$fmt" = vhd ] && echo "-o subformat=dynamic" || echo "-o block_size=1M")
    qemu-img convert -f raw -O "$qfmt" $opts base.raw lvm.$fmt
    python3 "$FSCHECK" blocks data.dead 0 "$bsz" > dead-blocks.txt
    python3 "$FSCHECK" blocks free-extents.txt 0 "$bsz" > free-blocks.txt
    nd=$(wc -l < dead-blocks.txt) nf=$(wc -l < free-blocks.txt)
    compact_fs_aware "lvm2 $fmt" lvm.$fmt
    check "lvm2 $fmt: ... reports both PVs and the LVs data (ext4), fat (FAT16), swap" /usr/bin/python3 - last.out <<'PY'
import json, sys
vols = json.loads(open(sys.argv[1]).read().replace("\r", "").splitlines()[1])["volumes"]
got = [(v["volume"], v["fs"], v["used"]) for v in vols]
want = [("GPT 1", "LVM2 PV", True), ("GPT 2", "LVM2 PV", True), ("LV vg/data", "ext4", True),
        ("LV vg/fat", "FAT16", True), ("LV vg/swap", "swap", True)]
ok = got == want and all(v["reclaimed"] > 0 for v in vols[:3])
if not ok: print("# got", json.dumps(vols))
sys.exit(0 if ok else 1)
PY
    qemu-img convert -f "$qfmt" -O raw lvm.$fmt after.raw
    check "lvm2 $fmt: every block wholly inside data's deleted files reads zeros ($nd)" \
        [ "$nd" -gt 0 -a "$(python3 "$FSCHECK" zeroed after.raw dead-blocks.txt "$bsz")" -eq "$nd" ]
    check "lvm2 $fmt: every block wholly inside the free extents reads zeros ($nf)" \
        [ "$nf" -gt 0 -a "$(python3 "$FSCHECK" zeroed after.raw free-blocks.txt "$bsz")" -eq "$nf" ]
    python3 "$FSCHECK" lv-get after.raw data.segs data.after
    python3 "$FSCHECK" lv-get after.raw fat.segs fat.after
    python3 "$FSCHECK" lv-get after.raw swap.segs swap.after
    check "lvm2 $fmt: data's ext4 checks clean and its files are identical" survivors_ok ext4 data.after
    check "lvm2 $fmt: fat's FAT16 checks clean and its files are identical" survivors_ok fat16 fat.after
    check "lvm2 $fmt: the swap LV's header page is as it was" cmp -s -n 4096 swap.before swap.after
    attach after.raw
    check "lvm2 $fmt: pvck finds both PVs' labels and metadata sound" pvck_all
    lvm_ vgcfgbackup -q -f meta-after.txt vg
    # vgcfgbackup regenerates the text: its time stamps, and the "Hint only"
    # device line, which names the loop device the PV sits on now (tests
    # running beside this one take loop devices too), are not the disk's.
    check "lvm2 $fmt: the volume group's metadata reads as before" \
        diff <(grep -v -e '^description' -e '^creation_time' -e '^# Generated' -e '# Hint only$' meta-before.txt) \
             <(grep -v -e '^description' -e '^creation_time' -e '^# Generated' -e '# Hint only$' meta-after.txt)
    detach
    rm -f after.raw lvm.$fmt ./*.after
}
lvm_disk vhdx $MiB
lvm_disk vhd $((2 * MiB))

# A PV on the whole disk, no partition table: one LV of ext4.
head -c $((64 * MiB)) /dev/urandom > disk.raw
attach disk.raw
lvm_ pvcreate -q "${LOOPS[0]}" && lvm_ vgcreate -q wvg "${LOOPS[0]}" && lvm_ lvcreate -q -an -Zn -L 40M -n root wvg
put_fs ext4 wvg/root
detach
qemu-img convert -f raw -O vhdx -o block_size=1M disk.raw whole.vhdx
compact_fs_aware "a PV on the whole disk" whole.vhdx
check "... reports the whole disk as a PV and its LV's ext4, mapped" \
    bash -c "sed -n 2p last.out | grep -q '\"volume\":\"whole disk\",\"fs\":\"LVM2 PV\",[^}]*\"used\":true.*\"volume\":\"LV wvg/root\",\"fs\":\"ext4\",[^}]*\"used\":true,\"free\":[1-9][0-9]*,\"reclaimed\":[1-9]'"
qemu-img convert -f vhdx -O raw whole.vhdx after.raw
python3 "$FSCHECK" lv-get after.raw root.segs root.after
check "... the ext4 checks clean and its files are identical" survivors_ok ext4 root.after
rm -f whole.vhdx after.raw root.after

# --- Fall-backs: each leaves what the guest reads exactly as it was --------
# fallback NAME VOLUME REASON [RANGES]: disk.raw as NAME.vhdx, compacted;
# VOLUME's report says REASON (a grep pattern); qemu reads the disk as
# before: all of it, or (when other LVs are still mapped) the RANGES of the
# LV that fell back.
fallback() {
    local name=$1 vol=$2 reason=$3 ranges=${4:-}
    qemu-img convert -f raw -O vhdx -o block_size=1M disk.raw "$name.vhdx"
    compact_fs_aware "$name" "$name.vhdx"
    check "$name: $vol falls back, saying why" \
        bash -c "sed -n 2p last.out | grep -q '\"volume\":\"$vol\",[^}]*\"used\":false,[^}]*\"reason\":\"[^\"]*$reason'"
    if [ -n "$ranges" ]; then
        qemu-img convert -f vhdx -O raw "$name.vhdx" after.raw
        check "$name: every byte of its extents reads as before" python3 "$FSCHECK" same-ranges disk.raw after.raw "$ranges"
        rm -f after.raw
    else
        check "$name: the guest reads exactly what it read before" quietly qemu-img compare -f raw -F vhdx disk.raw "$name.vhdx"
    fi
    rm -f "$name.vhdx"
}
# restore_with EDIT: vgcfgrestore of the metadata after the python EDIT of it.
restore_with() {
    cp base.raw disk.raw
    attach disk.raw
    /usr/bin/python3 -c "import sys; t = open('meta-before.txt').read(); $1; open('meta-edit.txt', 'w').write(t)"
    lvm_ vgcfgrestore -q -f meta-edit.txt vg --force
    check "vgcfgrestore wrote the edited metadata" [ $? -eq 0 ] || sed 's/^/# /' lvm.err
    detach
}

# A striped LV over both PVs, an ext4 (empty, over stale data) inside.
cp base.raw disk.raw
attach disk.raw
lvm_ lvcreate -q -an -Zn -i 2 -I 64k -L 16M -n stripes vg
check "lvm2 made a striped LV" [ $? -eq 0 ]
pv_ranges stripes > stripes.ranges
detach
fallback striped "LV vg/stripes" "striped across 2 stripes" stripes.ranges

# A snapshot of data (lvm2 cannot create one without device-mapper; its own
# vgcfgrestore writes the metadata that a snapshot has: a COW LV and a
# hidden "snapshot" segment naming the origin). data's old blocks are read
# through the snapshot, so nothing of data may go.
restore_with "i = t.rindex('\n\t}\n'); t = t[:i] + '''
\t\tcow {
\t\t\tid = \"cowcow-cowc-owco-wcow-cowc-owco-wcowco\"
\t\t\tstatus = [\"READ\", \"WRITE\", \"VISIBLE\"]
\t\t\tflags = []
\t\t\tsegment_count = 1
\t\t\tsegment1 {
\t\t\t\tstart_extent = 0
\t\t\t\textent_count = 1
\t\t\t\ttype = \"striped\"
\t\t\t\tstripe_count = 1
\t\t\t\tstripes = [\"pv1\", 10]
\t\t\t}
\t\t}
\t\tsnapshot0 {
\t\t\tid = \"snapsn-apsn-apsn-apsn-apsn-apsn-apsnap\"
\t\t\tstatus = [\"READ\", \"WRITE\"]
\t\t\tflags = []
\t\t\tsegment_count = 1
\t\t\tsegment1 {
\t\t\t\tstart_extent = 0
\t\t\t\textent_count = 14
\t\t\t\ttype = \"snapshot\"
\t\t\t\tchunk_size = 8
\t\t\t\torigin = \"data\"
\t\t\t\tcow_store = \"cow\"
\t\t\t}
\t\t}''' + t[i:]"
attach disk.raw
pv_ranges data > data.ranges
detach
fallback snapshot-origin "LV vg/data" "reads through it" data.ranges

# A raid1 LV (lvm2 cannot create one without device-mapper; vgcfgrestore
# writes its metadata: the visible LV of type raid1 over hidden rmeta/rimage
# sub-LVs). Neither it nor its images are mapped.
sub() {   # NAME PV EXTENT
    printf '\t\t%s {\n\t\t\tid = "%s"\n\t\t\tstatus = ["READ", "WRITE"]\n\t\t\tflags = []\n\t\t\tsegment_count = 1\n' "$1" "$4"
    printf '\t\t\tsegment1 {\n\t\t\t\tstart_extent = 0\n\t\t\t\textent_count = 1\n\t\t\t\ttype = "striped"\n'
    printf '\t\t\t\tstripe_count = 1\n\t\t\t\tstripes = ["%s", %s]\n\t\t\t}\n\t\t}\n' "$2" "$3"
}
{ printf '\t\tr {\n\t\t\tid = "raidrr-raid-raid-raid-raid-raid-raidrr"\n\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]\n'
  printf '\t\t\tflags = []\n\t\t\tsegment_count = 1\n\t\t\tsegment1 {\n\t\t\t\tstart_extent = 0\n\t\t\t\textent_count = 1\n'
  printf '\t\t\t\ttype = "raid1"\n\t\t\t\tdevice_count = 2\n\t\t\t\tregion_size = 1024\n'
  printf '\t\t\t\traids = ["r_rmeta_0", "r_rimage_0", "r_rmeta_1", "r_rimage_1"]\n\t\t\t}\n\t\t}\n'
  sub r_rmeta_0 pv0 20 rmeta0-rmet-rmet-rmet-rmet-rmet-rmeta0
  sub r_rimage_0 pv0 21 rimag0-rima-rima-rima-rima-rima-rimag0
  sub r_rmeta_1 pv1 8 rmeta1-rmet-rmet-rmet-rmet-rmet-rmeta1
  sub r_rimage_1 pv1 9 rimag1-rima-rima-rima-rima-rima-rimag1; } > raid.txt
restore_with "i = t.rindex('\n\t}\n'); t = t[:i] + '\n' + open('raid.txt').read().rstrip('\n') + t[i:]"
attach disk.raw
{ pv_ranges r_rimage_0; pv_ranges r_rimage_1; pv_ranges r_rmeta_0; pv_ranges r_rmeta_1; } > raid.ranges
detach
check "the raid1 LV's four sub-LVs are where the metadata puts them" [ "$(wc -l < raid.ranges)" -eq 4 ]
fallback raid1 "LV vg/r" "a raid1 LV" raid.ranges

# The first PV alone on a disk: the group's other PV is elsewhere.
cp base.raw disk.raw
sfdisk -q --delete disk.raw 2
fallback missing-pv "GPT 1" "2 physical volumes, 1 of them not on this disk"

# lvm_mda EDIT PART COPY [stale-crc|moved-header]: base.raw as disk.raw with
# the text of metadata copy COPY of partition PART's PV rewritten by a python
# EDIT of t, and LVM2's CRCs recomputed (unless stale-crc; moved-header: the
# area's header says it starts 4 KiB later than the PV header has it). The CRC code is checked
# first against the unedited copy: only trusted where it agrees with lvm2.
lvm_mda() {
    cp base.raw disk.raw
    /usr/bin/python3 - disk.raw "$2" "$3" "$1" "${4:-}" <<'PY'
import struct, subprocess, sys
disk, part, copy, edit, stale = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
def crc(data, c=0xf597a6cf):
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ (0xedb88320 & -(c & 1))
    return c
table = subprocess.run(["sfdisk", "-d", disk], capture_output=True, text=True).stdout.splitlines()
base = [int(l.split("start=")[1].split(",")[0]) * 512 for l in table if " : start=" in l][part]
f = open(disk, "r+b")
f.seek(base + 512)
label = f.read(512)
assert label[:8] == b"LABELONE" and struct.unpack_from("<I", label, 16)[0] == crc(label[20:]), "label"
hdr, p, areas = label[struct.unpack_from("<I", label, 20)[0]:], 40, [[], []]
for k in range(2):
    while True:
        o, n = struct.unpack_from("<QQ", hdr, p)
        p += 16
        if not o and not n:
            break
        areas[k].append((o, n))
mo, ms = areas[1][copy]
f.seek(base + mo)
m = bytearray(f.read(512))
assert struct.unpack_from("<I", m, 0)[0] == crc(m[4:]), "metadata area header CRC"
to, tl, tc = struct.unpack_from("<QQI", m, 40)
assert to + tl <= ms, "a wrapped text: not handled here"
f.seek(base + mo + to)
text = f.read(tl)
assert crc(text) == tc, "text CRC"
t = text.decode()
exec(edit)
new = t.encode()
assert to + len(new) <= ms
f.seek(base + mo + to)
f.write(new)
if stale == "moved-header":
    # The header's own record of where it is, no longer where the PV header says.
    struct.pack_into("<Q", m, 24, mo + 4096)
    struct.pack_into("<I", m, 0, crc(m[4:]))
    f.seek(base + mo)
    f.write(m)
elif stale != "stale-crc":
    struct.pack_into("<QQI", m, 40, to, len(new), crc(new))
    struct.pack_into("<I", m, 0, crc(m[4:]))
    f.seek(base + mo)
    f.write(m)
PY
    check "a metadata copy was rewritten (partition $2, copy $3${4:+, $4})" [ $? -eq 0 ]
}
# A text byte changed, its checksum not: the PV, and so its group, falls back.
lvm_mda "t = t.replace('seqno = ', 'seqno = 9', 1)" 0 0 stale-crc
fallback bad-checksum "GPT 1" "fails its checksum"
# The second PV's two metadata copies, one a commit ahead of the other.
lvm_mda "import re; t = re.sub(r'seqno = (\\d+)', lambda m: 'seqno = %d' % (int(m.group(1)) + 1), t, 1)" 1 1
fallback seqno-disagree "GPT 1" "disagree"
# A metadata area whose header says it is elsewhere.
lvm_mda "" 1 0 moved-header
fallback misplaced-mda "GPT 1" "the metadata area header says it is at"
# A shared volume group (lvmlockd): another host may be writing it.
lvm_mda "t = t.replace('format = \"lvm2\"', 'lock_type = \"dlm\"\\nformat = \"lvm2\"', 1)" 0 0
fallback shared-vg "GPT 1" "shared volume group"

rm -f ./*.raw ./*.img
finish
