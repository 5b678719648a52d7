"""The API server: HTTPS front and router, REST handlers, admission and defaults, patches,
table and OpenAPI views, TLS material, and the in-process loopback transport."""
