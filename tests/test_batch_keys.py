"""Row keys as directory names, and shards: stable, complete, disjoint."""

from __future__ import annotations

import json
import os
import random
import re
import string
import subprocess
import sys
from collections import Counter

import pytest

from spine_cli.errors import UsageError
from spine_cli.runs.batch.input import read_batch
from spine_cli.runs.batch.keys import (DIR_NAME_MAX, Shard, check_key, parse_shard, safe_dir_name,
                                       shard_of)

_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


@pytest.mark.parametrize("key", ["acme", "q3-emea", "client_042", "row-0123456789ab", "v1.2"])
def test_plain_lowercase_keys_are_their_own_directory_names(key):
    assert safe_dir_name(key) == key


@pytest.mark.parametrize("key, readable", [
    ("Acme", "Acme"), ("../etc/passwd", "etc_passwd"), ("a/b", "a_b"), ("a\\b", "a_b"),
    (".", "row"), ("..", "row"), ("", "row"), (".hidden", "hidden"), ("con", "con"),
    ("NUL.txt", "NUL.txt"), ("trailing.", "trailing"), ("x-0123456789", "x-0123456789"),
    ("Zürich & Genève", "Z_rich_Gen_ve"), ("tab\there", "tab_here"),
])
def test_other_keys_keep_a_readable_part_and_gain_a_hash(key, readable):
    name = safe_dir_name(key)
    assert re.fullmatch(re.escape(readable) + r"-[0-9a-f]{10}", name), name
    assert name == safe_dir_name(key)  # stable


def test_long_keys_are_bounded():
    name = safe_dir_name("a" * 500)
    assert len(name) == DIR_NAME_MAX and name.startswith("a" * 69 + "-")
    assert safe_dir_name("a" * DIR_NAME_MAX) == "a" * DIR_NAME_MAX


def test_directory_names_never_collide_even_on_case_insensitive_file_systems():
    rng = random.Random(14)
    alphabet = string.ascii_letters + string.digits + "._-/\\ .é"
    keys = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(20_000)}
    keys |= {"acme", "Acme", "ACME", "a/b", "a_b", "a?b", "..", "."}
    keys |= {safe_dir_name(k) for k in list(keys)[:2000]}  # keys that look like made names
    names = [safe_dir_name(k) for k in keys]
    assert len({n.casefold() for n in names}) == len(keys)
    for name in names:
        assert _NAME.match(name) and name not in (".", "..") and not name.startswith(".")
        assert len(name) <= DIR_NAME_MAX and not name.endswith(".")


def test_check_key_strips_and_refuses():
    assert check_key("  a key  ") == "a key"
    for bad, message in [("  ", "the key is empty"), ("a\nb", "control characters"),
                         ("a\u202eb", "control characters"), ("k" * 201, "201 characters")]:
        with pytest.raises(UsageError, match=message):
            check_key(bad)


# --- shards -------------------------------------------------------------------------

@pytest.mark.parametrize("text, shard", [("1/1", Shard(1, 1)), ("2/5", Shard(2, 5)),
                                         (" 5 / 5 ", Shard(5, 5)), ("1000/1000", Shard(1000, 1000))])
def test_parse_shard(text, shard):
    assert parse_shard(text) == shard and str(shard) == f"{shard.k}/{shard.n}"


@pytest.mark.parametrize("text, message", [
    ("3", r"^Invalid --shard '3': give K/N, for example --shard 2/5 \(this job takes shard 2 of 5\)\.$"),
    ("a/b", r"give K/N"), ("1/-2", r"give K/N"), ("", r"give K/N"),
    ("0/3", r"^Invalid --shard '0/3': K counts from 1 and is at most N \(1 <= K <= 3\)\.$"),
    ("4/3", r"K counts from 1"), ("1/0", r"N must be between 1 and 1000"),
    ("1/1001", r"N must be between 1 and 1000"),
])
def test_parse_shard_errors(text, message):
    with pytest.raises(UsageError, match=message) as excinfo:
        parse_shard(text)
    assert excinfo.value.exit_code == 2


def test_shards_cover_every_key_exactly_once():
    keys = [f"client-{i}" for i in range(5000)] + [f"row-{i:012x}" for i in range(5000)]
    for n in (1, 2, 3, 7, 16, 100):
        taken = Counter()
        for k in range(1, n + 1):
            taken.update(key for key in keys if Shard(k, n).contains(key))
        assert set(taken) == set(keys) and set(taken.values()) == {1}, n
        sizes = Counter(shard_of(key, n) for key in keys)
        assert set(sizes) == set(range(1, n + 1))
        assert max(sizes.values()) < 1.3 * len(keys) / n  # roughly even


def test_shard_of_is_sha256_based_and_the_same_in_every_process():
    # Pinned values: a change here moves rows between shards of running batches.
    assert [shard_of(k, 5) for k in ("acme", "beta", "row-0123456789ab")] == [3, 1, 4]
    pinned = {key: shard_of(key, 7) for key in ("acme", "beta", "gamma", "row-0123456789ab")}
    code = ("import json,sys; from spine_cli.runs.batch.keys import shard_of;"
            "print(json.dumps({k: shard_of(k, 7) for k in json.loads(sys.argv[1])}))")
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code, json.dumps(list(pinned))],
                             capture_output=True, text=True, timeout=30,
                             env={**os.environ, "PYTHONHASHSEED": seed}, check=True)
        assert json.loads(out.stdout) == pinned
    import hashlib

    digest = hashlib.sha256(b"acme").digest()
    assert shard_of("acme", 7) == int.from_bytes(digest[:8], "big") % 7 + 1
    with pytest.raises(ValueError):
        shard_of("acme", 0)


def test_a_batch_splits_into_shards_that_partition_its_rows(tmp_path):
    file = tmp_path / "rows.jsonl"
    file.write_text("".join(json.dumps({"prompt": f"memo {i}"}) + "\n" for i in range(300)))
    batch = read_batch(str(file))
    parts = [batch.select(Shard(k, 4)) for k in range(1, 5)]
    assert sorted(r.line for part in parts for r in part) == list(range(1, 301))
    assert all(part == sorted(part, key=lambda r: r.line) for part in parts)
    assert batch.select(None) == batch.rows
