"""`spine batch`'s use-cases: read and check FILE, plan, run, merge (docs/batch.md)."""
