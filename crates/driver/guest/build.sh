#!/bin/sh
# Rebuild dirty.bin from dirty.S.  Only needed after editing dirty.S: the
# committed dirty.bin is what the tests use.  Needs GNU binutils (as, ld, od).
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

as --32 -o "$tmp/dirty.o" dirty.S
ld -m elf_i386 -Ttext=0x7c00 --oformat=binary -e _start -o "$tmp/dirty.bin" "$tmp/dirty.o"

size=$(wc -c < "$tmp/dirty.bin" | tr -d ' ')
if [ "$size" -ne 512 ]; then
    echo "build.sh: dirty.bin is $size bytes, expected 512" >&2
    exit 1
fi
sig=$(od -An -tx1 -j510 -N2 "$tmp/dirty.bin" | tr -d ' \n')
if [ "$sig" != "55aa" ]; then
    echo "build.sh: boot signature is $sig, expected 55aa" >&2
    exit 1
fi

chmod 644 "$tmp/dirty.bin"   # ld marks its output executable
mv "$tmp/dirty.bin" dirty.bin
echo "build.sh: dirty.bin OK (512 bytes, signature 55aa)"
