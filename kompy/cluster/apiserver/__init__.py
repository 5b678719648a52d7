"""The API server: HTTPS front and router, REST handlers, admission and defaults, patches,
table and OpenAPI views, and TLS material."""
