"""Hook-job status: our own view, Harbor's legacy jobs list, and Harbor 2.8 executions/tasks/logs."""
