"""Uploads: `spine run create --file BIG` against `curl -F files=@BIG` to the same emulator.

Targets (issue 7): wall-time ratio ≤ 1.3, `spine`'s peak RSS ≤ 100 MiB, for a
1 GiB file (median of 2 runs each with --quick, else of 3). The file is random data written in a
temporary directory and deleted afterwards; the emulator (loopback, raised
--max-file-size) stores each upload, so its data directory is deleted too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bench.common import MiB, SPINE, clean_env, interleaved, limit_line, ratio_line, start_emulator

CURL = shutil.which("curl")


def make_file(path: Path, size: int) -> None:
    block = os.urandom(4 * MiB)   # a repeated random block: incompressible enough, fast
    with open(path, "wb") as fh:
        for _ in range(size // len(block)):
            fh.write(block)


def main(quick: bool = False) -> bool:
    size = 1024 * MiB   # smaller files let spine's fixed ~0.5 s start-up weigh on the ratio
    reps = 2 if quick else 3
    print(f"== uploads: one {size // MiB} MiB file, median of {reps} interleaved runs ==")
    if not CURL:
        print("  curl not found: skipped")
        return False
    with tempfile.TemporaryDirectory(prefix="spine-bench-up-") as tmp:
        tmp_path = Path(tmp)
        big = tmp_path / "big.zip"
        make_file(big, size)
        emu = start_emulator(tmp_path / "emu", "--max-file-size", "4GiB")
        try:
            key = emu.new_key()
            env = clean_env(SPINE_API_KEY=key, SPINE_BASE_URL=emu.base_url,
                            SPINE_CONFIG_DIR=str(tmp_path / "cfg"),
                            SPINE_DATA_DIR=str(tmp_path / "data"))
            prompt = "Upload benchmark [emulate:duration=1]"
            got = interleaved({
                "curl": [CURL, "-sS", "-f", "-o", os.devnull, "-H", f"X-API-KEY: {key}",
                         "-F", f"prompt={prompt}", "-F", f"files=@{big}",
                         f"{emu.base_url}/v1/run"],
                "spine": [SPINE, "run", "create", "-q", "--prompt", prompt, "--file", str(big)],
            }, reps, env, warmup=0)
            uploads = len([e for e in emu.requests(key) if e.get("method") == "POST"])
        finally:
            emu.close()
    ours, base = got["spine"], got["curl"]
    rate = size / MiB / ours.wall
    line, ok = ratio_line("spine run create --file (wall)", ours.wall, base.wall, "s", 1.3,
                          "curl -F files=@…")
    print(line)
    print(ratio_line("spine run create --file (cpu)", ours.cpu, base.cpu, "s", None,
                     "curl -F files=@…")[0])
    print(ratio_line("spine run create --file (RSS)", ours.rss, base.rss, "MiB", None,
                     "curl -F files=@…")[0])
    rss_line, rss_ok = limit_line("spine peak RSS", ours.rss, "MiB", 100)
    print(rss_line)
    print(f"  spine upload rate {rate:.0f} MiB/s; {uploads} uploads logged by the emulator")
    return ok and rss_ok


if __name__ == "__main__":
    main()
