"""Storage: protocols plus an embedded (SQLite) and a scale-out (PostgreSQL / Redis) implementation."""
