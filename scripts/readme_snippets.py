#!/usr/bin/env python3
"""Runs every ```bash and ```python block of the READMEs, so a README that drifts from the code fails CI.

A reader follows a README top to bottom, so the blocks of one README run in order in one scratch folder
(state carries over: a file written by one block is there for the next). The scratch setup:
  - cwd: <scratch>/work, with `models/`, `build/` and `bench/` linking to the repository's (the small
    bundled models, the built binaries and benchmarks);
  - GRAPHCACHE_DIR=<scratch>/cache and HOME=<scratch>/home (nothing touches the real caches);
  - PATH starts with build/src/cli (the `graphcache` command) and .venv/bin (`python` = the venv's);
  - a local redis-server on a free port; `localhost:6379` in a block is rewritten to it.
bash blocks run under `bash -euo pipefail`, python blocks under the venv's python. A block that cannot
run here is marked on the line before it with `<!-- snippet: skip (why) -->` and counted as skipped.
Usage: scripts/readme_snippets.py [README ...]   (default: the repository's READMEs)
"""

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"^<!--\s*snippet:\s*skip\s*(.*?)\s*-->\s*$")
TIMEOUT_S = 300


def blocks(path):
    """Yields (line number, language, text, skip reason or None) for each fenced block."""
    lines = open(path, encoding="utf-8").read().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        prev = start - 1
        while prev >= 0 and not lines[prev].strip():
            prev -= 1
        skip = SKIP.match(lines[prev]) if prev >= 0 else None
        yield start + 1, lang, "\n".join(lines[start + 1 : j]) + "\n", (skip.group(1) or "marked") if skip else None
        i = j + 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(scratch):
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", scratch],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("readme_snippets: redis-server did not start")


def run_readme(readme, redis_port):
    scratch = tempfile.mkdtemp(prefix="graphcache-readme-")
    work = os.path.join(scratch, "work")
    os.makedirs(work)
    os.makedirs(os.path.join(scratch, "home"))
    for name in ("models", "build", "bench"):  # bundled models; benchmark binaries and scripts
        os.symlink(os.path.join(ROOT, name), os.path.join(work, name))
    env = dict(os.environ)
    env.update(GRAPHCACHE_DIR=os.path.join(scratch, "cache"), HOME=os.path.join(scratch, "home"),
               PATH=os.pathsep.join([os.path.join(ROOT, "build/src/cli"), os.path.join(ROOT, ".venv/bin"),
                                     env.get("PATH", "")]))
    for name in ("GRAPHCACHE_REMOTE", "GRAPHCACHE_CONFIG", "GRAPHCACHE_REMOTE_READ_ONLY"):
        env.pop(name, None)
    python = os.path.join(ROOT, ".venv/bin/python")
    ran = skipped = failed = 0
    rel = os.path.relpath(readme, ROOT)
    try:
        for line, lang, text, skip in blocks(readme):
            if lang not in ("bash", "sh", "python"):
                continue
            if skip:
                print(f"  skip {rel}:{line} {lang} {skip}")
                skipped += 1
                continue
            text = text.replace("localhost:6379", f"localhost:{redis_port}")
            command = ["bash", "-euo", "pipefail", "-c", text] if lang != "python" else [python, "-c", text]
            start = time.monotonic()
            try:
                r = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
                status, output = r.returncode, r.stdout + r.stderr
            except subprocess.TimeoutExpired as e:
                status, output = "timeout", f"{e.stdout or ''}{e.stderr or ''}"
            took = time.monotonic() - start
            if status == 0:
                print(f"  ok   {rel}:{line} {lang} ({took:.1f} s)")
                ran += 1
            else:
                print(f"  FAIL {rel}:{line} {lang} (exit {status}, {took:.1f} s)\n{text}---- output:\n{output}")
                failed += 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ran, skipped, failed


def main():
    readmes = sys.argv[1:] or [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "python/README.md")] + sorted(
        glob.glob(os.path.join(ROOT, "bench/*/README.md")))
    if not os.access(os.path.join(ROOT, "build/src/cli/graphcache"), os.X_OK):
        raise SystemExit("readme_snippets: build/src/cli/graphcache is missing; run scripts/build.sh first")
    redis_dir = tempfile.mkdtemp(prefix="graphcache-readme-redis-")
    redis, port = start_redis(redis_dir)
    totals = [0, 0, 0]
    try:
        for readme in readmes:
            for i, n in enumerate(run_readme(readme, port)):
                totals[i] += n
    finally:
        redis.terminate()
        redis.wait()
        shutil.rmtree(redis_dir, ignore_errors=True)
    print(f"README snippets: {totals[0]} ran, {totals[1]} skipped, {totals[2]} failed")
    return 1 if totals[2] else 0


if __name__ == "__main__":
    sys.exit(main())
