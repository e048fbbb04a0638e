#!/usr/bin/env bash
# Builds the libFuzzer targets (preset "fuzz": clang + ASan + UBSan) and runs each for SECONDS
# (default 60) on seed corpora: the ONNX test models, real cache entries, valid/invalid keys and CLI
# argument vectors. Crashes are kept under build-fuzz/crashes/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
bash scripts/setup.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j"$(nproc)"
OUT=build-fuzz/corpora
mkdir -p "$OUT" build-fuzz/crashes

seed_dir() { mkdir -p "$OUT/$1"; echo "$OUT/$1"; }
d=$(seed_dir onnx)
# sort + sed, not head: head would close the pipe early and pipefail would end the script (SIGPIPE).
find /usr/share/libonnx-testdata/data -name '*.onnx' -size -64k | sort | sed -n 1,400p | while read -r f; do
  cp "$f" "$d/$(echo "$f" | md5sum | cut -c1-16).onnx"
done
cp models/*.onnx "$d/"
d=$(seed_dir hex)
printf '%064d' 0 >"$d/zeros"; printf 'ab%.0s' {1..32} >"$d/ab"; printf '../../etc/passwd' >"$d/path"
d=$(seed_dir cli)
printf 'key\0models/tiny_cnn.onnx\0--setting\0a=b\0--profile\0000:1x3:2x3:4x3' >"$d/key"
printf 'diff\0a.onnx\0b.onnx' >"$d/diff"
printf 'get\0%064d\0out' 0 >"$d/get"
printf 'exec\0--input\0m.onnx\0--output\0e.plan\0--\0trtexec\0--onnx=m.onnx' >"$d/exec"
if [ -x build-fuzz/fuzz/fuzz_entry_reader ]; then
  # Real entries (plain and zstd) for the harness's key ('c' x 64), each behind the harness's mode byte:
  # 0 verbatim in memory, 1 checksums fixed up, 2 verbatim through LocalStore::get, 3 both.
  d=$(seed_dir entry)
  tmp=$(mktemp -d)
  key=$(printf 'c%.0s' {1..64})
  head -c 300 models/tiny_cnn.onnx >"$tmp/small.bin"  # small seeds fuzz faster; the full model for realism
  for engine in small.bin full.onnx; do
    [ "$engine" = full.onnx ] && cp models/tiny_cnn.onnx "$tmp/full.onnx"
    for compress in false true; do
      build-fuzz/src/cli/graphcache put --cache-dir "$tmp/$engine-$compress" --compress "$compress" \
        --meta origin=fuzz "$key" "$tmp/$engine" >/dev/null
      entry=$(find "$tmp/$engine-$compress" -type f -name "$key")
      for mode in 0 1 2 3; do
        { printf "\\x0$mode"; cat "$entry"; } >"$d/${engine%%.*}-$compress-$mode"
      done
    done
  done
  rm -rf "$tmp"
fi
if [ -x build-fuzz/fuzz/fuzz_bundle_reader ]; then
  # Real bundles (signed, unsigned, compressed entries) behind the harness's mode byte: 0 in memory,
  # 1 digest fixed up, 2 imported into a real store, 3 both.
  d=$(seed_dir bundle)
  tmp=$(mktemp -d)
  head -c 300 models/tiny_cnn.onnx >"$tmp/small.bin"
  build-fuzz/src/cli/graphcache keygen "$tmp/k.pem" >/dev/null
  for compress in false true; do
    for i in 1 2; do
      build-fuzz/src/cli/graphcache put --cache-dir "$tmp/c-$compress" --compress "$compress" \
        "$(printf "$i%.0s" {1..64})" "$tmp/small.bin" >/dev/null
    done
    build-fuzz/src/cli/graphcache bundle create --cache-dir "$tmp/c-$compress" "$tmp/u.gcb" --all >/dev/null
    build-fuzz/src/cli/graphcache bundle create --cache-dir "$tmp/c-$compress" --signing-key "$tmp/k.pem" \
      "$tmp/s.gcb" --all >/dev/null
    for mode in 0 1 2 3; do
      { printf "\\x0$mode"; cat "$tmp/u.gcb"; } >"$d/unsigned-$compress-$mode"
      { printf "\\x0$mode"; cat "$tmp/s.gcb"; } >"$d/signed-$compress-$mode"
    done
  done
  rm -rf "$tmp"
  printf '\x01' >"$d/empty-fixed-up"  # once a harness crash: an empty bundle (null data) read in memory
fi

status=0
for target in key_hex:hex onnx_loader:onnx cli_args:cli entry_reader:entry bundle_reader:bundle; do
  bin=build-fuzz/fuzz/fuzz_${target%%:*}
  corpus=$OUT/${target##*:}
  [ -x "$bin" ] || continue
  echo "== fuzz ${target%%:*} for ${SECONDS_EACH}s"
  if ! "$bin" -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 -max_len=1048576 \
       -artifact_prefix=build-fuzz/crashes/ "$corpus" 2>&1 | tail -3; then
    status=1
  fi
done
exit $status
