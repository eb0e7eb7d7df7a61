"""Test helpers shared by the suite (the emulator handle)."""
