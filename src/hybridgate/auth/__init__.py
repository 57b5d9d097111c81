"""Who is calling: bearer keys -> Principal."""
