"""Training parity: the same training run on both sides, judged per iteration."""
