"""The judge: metrics per stage, the canonical stages, the verdict."""
