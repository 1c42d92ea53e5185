"""Test helpers: paths, fixtures, hand-made scenes, message samples, the node harness."""
