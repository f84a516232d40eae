"""The ``simplecnn`` console command."""
