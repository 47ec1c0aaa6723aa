"""Operating Dockhook: liveness and readiness probes and Prometheus metrics, outside the ``/api/`` prefix."""
