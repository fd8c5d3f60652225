"""The operator's dashboard in the admin, the figures it shows (read over every app), GPU capacity
and the Prometheus metrics."""
