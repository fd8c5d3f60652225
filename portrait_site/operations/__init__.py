"""The operator's dashboard in the admin, and the figures it shows, read over every app."""
