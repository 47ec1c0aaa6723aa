"""The publish API: other producers' events (scan, quota, replication, retention) into the broker."""
