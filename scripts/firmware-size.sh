#!/usr/bin/env bash
# Prints what a Cortex-M firmware occupies: flash (vector table, .text, .rodata and the
# initial values of .data) and static RAM (.data, .bss, .uninit), against the
# gateway's goal of 128 KiB flash and 48 KiB RAM. The stack comes on top of the static
# RAM; the gateway's end-to-end test prints its painted peak.
#
# Fails when .data exceeds 1 KiB: the firmware builds its state in place in statics
# whose initial values are all zero bits (.bss, RAM only); a static with one non-zero
# octet goes to .data whole, and its initial image takes as much flash again.
#
# usage: scripts/firmware-size.sh ELF
set -euo pipefail
elf=${1:?usage: scripts/firmware-size.sh ELF}
declare -A size
while read -r section hex; do
    size[$section]=$((16#$hex))
done < <(readelf -SW "$elf" |
    awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\.(vector_table|text|rodata|data|bss|uninit)$/) print $i, $(i + 4) }')
for s in .vector_table .text .rodata .data .bss .uninit; do
    printf '  %-14s %7d bytes\n' "$s" "${size[$s]:-0}"
done
flash=$(( ${size[.vector_table]:-0} + ${size[.text]:-0} + ${size[.rodata]:-0} + ${size[.data]:-0} ))
ram=$(( ${size[.data]:-0} + ${size[.bss]:-0} + ${size[.uninit]:-0} ))
printf '  flash %7d bytes (%d KiB; goal 128 KiB: %s)\n' "$flash" $(( (flash + 1023) / 1024 )) \
    "$([ "$flash" -le 131072 ] && echo met || echo "$(( flash * 100 / 131072 ))% of it")"
printf '  RAM   %7d bytes static (%d KiB; goal 48 KiB with the stack: %s)\n' "$ram" $(( (ram + 1023) / 1024 )) \
    "$([ "$ram" -le 49152 ] && echo "static part within" || echo "$(( ram * 100 / 49152 ))% of it")"
if [ "${size[.data]:-0}" -gt 1024 ]; then
    echo "firmware-size: .data is ${size[.data]} bytes (at most 1024): a static's initial value is not all zero bits" >&2
    exit 1
fi
