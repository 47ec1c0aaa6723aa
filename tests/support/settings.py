"""The settings every test process and in-process app starts with: a secret key, and loopback sinks allowed."""

from __future__ import annotations

# A fixed Fernet key for tests only (never used outside the test suite).
SECRET_KEY = "obEYBpdzkmOpJSp3ri9DfK-IUywHjCO3PiOnhCB1sAA="
# The key an operator rotates to in the key-rotation tests.
NEW_SECRET_KEY = "HRZop9ucPnqvS5NOuFUsjNiwtingghYsX3kbyItI2sY="
# Test sinks listen on loopback, which deliveries may reach only when the operator allows it (as make run does).
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"

ENV = {"DOCKHOOK_SECRET_KEYS": SECRET_KEY, "DOCKHOOK_ALLOWED_TARGET_NETWORKS": LOOPBACK_NETWORKS}
