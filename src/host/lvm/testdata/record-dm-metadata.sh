#!/usr/bin/env bash
# Records real `lvs` JSON for LVM layouts that need device-mapper to *create* (COW snapshots, a merging
# snapshot, thin pools, thin volumes, thin snapshots and clones) on a machine WITHOUT device-mapper:
# the layouts are written as LVM text metadata and put on a real loop PV with `vgcfgrestore`, then
# `lvs` reports them (activation off). Everything lvs derives from metadata (names, lv_attr letters,
# origin, pool_lv, segtype, sizes, lv_merging of a merging snapshot, devices) is LVM's own output;
# everything it reads from the kernel (data_percent, snap_percent, lv_device_open, lv_snapshot_invalid,
# the active/open lv_attr letters) is empty or "unknown" here. Also records the stderr of the commands
# that refuse to run without device-mapper. Run as root: bash record-dm-metadata.sh (writes beside itself).
# Cleans up its VG, PV and loop device.
set -euo pipefail
cd "$(dirname "$0")"
export LVM_SUPPRESS_FD_WARNINGS=1
C='global{activation=0} activation{udev_sync=0 udev_rules=0} backup{backup=0 archive=0}'
VG=hwrecVG
F=lv_path,lv_name,vg_name,lv_uuid,lv_attr,lv_size,pool_lv,origin,data_percent,metadata_percent,lv_time,segtype,seg_start_pe,devices,lv_active,lv_snapshot_invalid,lv_merge_failed,snap_percent,lv_device_open,lv_merging,lv_metadata_size
tmp=$(mktemp -d)
img=$tmp/pv.img
truncate -s 2G "$img"
loop=$(losetup -f --show "$img")
cleanup() {
  vgremove --config "$C" -ff -y "$VG" >/dev/null 2>&1 || true
  pvremove -y "$loop" >/dev/null 2>&1 || true
  losetup -d "$loop" || true
  rm -rf "$tmp"
}
trap cleanup EXIT
pvcreate -q -y "$loop" >/dev/null
vgcreate --config "$C" -q "$VG" -y "$loop" >/dev/null 2>&1
pvid=$(pvs --noheadings -o pv_uuid "$loop" | tr -d ' ')

# One LV block: name, status list, creation time, segment body.
lv() {
  printf '\t\t%s {\n\t\t\tid = "%s"\n\t\t\tstatus = [%s]\n\t\t\tflags = []\n\t\t\tcreation_time = %s\n\t\t\tcreation_host = "rec"\n\t\t\tsegment_count = 1\n\t\t\tsegment1 {\n\t\t\t\tstart_extent = 0\n%s\n\t\t\t}\n\t\t}\n' \
    "$1" "$(printf '%-6.6s-0000-0000-0000-0000-0000-000000' "$(echo "$1" | md5sum | cut -c1-6)")" "$2" "$3" "$4"
}
linear() { printf '\t\t\t\textent_count = %s\n\t\t\t\ttype = "striped"\n\t\t\t\tstripe_count = 1\n\t\t\t\tstripes = ["pv0", %s]' "$1" "$2"; }
RW='"READ", "WRITE", "VISIBLE"'
vgfile() {
  local seq=$1; shift
  cat <<META
contents = "Text Format Volume Group"
version = 1
$VG {
	id = "abcdef-0000-0000-0000-0000-0000-000000"
	seqno = $seq
	format = "lvm2"
	status = ["RESIZEABLE", "READ", "WRITE"]
	flags = []
	extent_size = 8192
	max_lv = 0
	max_pv = 0
	metadata_copies = 0
	physical_volumes {
		pv0 {
			id = "$pvid"
			device = "$loop"
			status = ["ALLOCATABLE"]
			flags = []
			dev_size = 4194304
			pe_start = 2048
			pe_count = 511
		}
	}
	logical_volumes {
$*
	}
}
META
}
origin=$(lv pvc-thick "$RW" 1796400000 "$(linear 25 0)")
cow=$(lv snapcontent-thick '"READ", "VISIBLE"' 1796400060 "$(linear 5 25)")
snapseg() { lv snapshot0 '"READ"' 1796400060 "$(printf '\t\t\t\textent_count = 25\n\t\t\t\ttype = "snapshot"\n\t\t\t\tchunk_size = 8\n\t\t\t\torigin = "pvc-thick"\n\t\t\t\t%s = "snapcontent-thick"' "$1")"; }
thinlv() { # name status time extents device_id [origin]
  local o=""; [ -n "${6:-}" ] && o=$(printf '\n\t\t\t\torigin = "%s"' "$6")
  lv "$1" "$2" "$3" "$(printf '\t\t\t\textent_count = %s\n\t\t\t\ttype = "thin"\n\t\t\t\tthin_pool = "LocalStorage_ThinPool"\n\t\t\t\ttransaction_id = %s\n\t\t\t\tdevice_id = %s%s' "$4" "$5" "$5" "$o")"
}
pool=$(lv LocalStorage_ThinPool "$RW" 1796400100 "$(printf '\t\t\t\textent_count = 50\n\t\t\t\ttype = "thin-pool"\n\t\t\t\tmetadata = "LocalStorage_ThinPool_tmeta"\n\t\t\t\tpool = "LocalStorage_ThinPool_tdata"\n\t\t\t\ttransaction_id = 3\n\t\t\t\tchunk_size = 128\n\t\t\t\tdiscards = "passdown"\n\t\t\t\tzero_new_blocks = 1')")
thin="$pool
$(lv LocalStorage_ThinPool_tmeta '"READ", "WRITE"' 1796400100 "$(linear 2 32)")
$(lv LocalStorage_ThinPool_tdata '"READ", "WRITE"' 1796400100 "$(linear 50 34)")
$(lv lvol0_pmspare '"READ", "WRITE"' 1796400100 "$(linear 2 30)")
$(thinlv pvc-thin "$RW" 1796400110 75 1)
$(thinlv snapcontent-thin '"READ", "VISIBLE"' 1796400120 75 2 pvc-thin)
$(thinlv pvc-thin-clone "$RW" 1796400130 75 3 snapcontent-thin)"

report() { # file seq lvs...
  local out=$1 seq=$2; shift 2
  vgfile "$seq" "$@" > "$tmp/vg.txt"
  vgcfgrestore --config "$C" --force -f "$tmp/vg.txt" "$VG" >/dev/null 2>&1
  lvs --config "$C" -a --reportformat json --units B --nosuffix -o "$F" "$VG" 2>/dev/null > "$out"
  echo "recorded $out"
}
report lvs-snapshot-thick.json 10 "$origin" "$cow" "$(snapseg cow_store)"
report lvs-snapshot-merging.json 11 "$origin" "$cow" "$(snapseg merging_store)"
report lvs-thin.json 12 "$origin" "$thin"

# What the dm-only commands print here (stderr, exit 5): the classifier's input.
{
  vgfile 13 "$origin" "$cow" "$(snapseg cow_store)" "$thin" > "$tmp/vg.txt"
  vgcfgrestore --config "$C" --force -f "$tmp/vg.txt" "$VG" >/dev/null 2>&1
  for argv in \
    "lvcreate --size 20971520B --snapshot --name s2 --permission r -k n $VG/pvc-thick" \
    "lvconvert --merge $VG/snapcontent-thick" \
    "lvcreate $VG --type thin-pool -n LocalStorage_ThinPool2 -y --poolmetadatasize=1G --size=1G" \
    "lvcreate -V 104857600B --thin --thinpool LocalStorage_ThinPool -W y $VG -n t2 -y" \
    "lvcreate -s -k n --thinpool LocalStorage_ThinPool $VG/pvc-thin -n t3 -y" \
    "lvextend $VG/LocalStorage_ThinPool -y --size=1G"; do
    # shellcheck disable=SC2086
    set -- $argv
    cmd=$1; shift
    echo "\$ $cmd --config <activation off> $*"
    "$cmd" --config "$C" "$@" 2>&1 | grep -v 'WARNING: Activation disabled' || true
  done
} > no-dm-stderr.txt
echo "recorded no-dm-stderr.txt"
