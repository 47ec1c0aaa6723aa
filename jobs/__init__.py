"""RQ job functions and what they need (HTTP sender, signing, sweep); never imported by ``app``."""
