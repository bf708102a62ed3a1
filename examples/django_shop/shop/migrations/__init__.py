"""The shop's schema migrations."""
