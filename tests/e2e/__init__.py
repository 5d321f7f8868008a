"""End-to-end tests: a real django-q2 cluster, real HTTP to the sandbox, PostgreSQL."""
