"""System configuration resource (the global webhook switch)."""
