"""Command-line sub-apps; `cli.py` registers them."""
