"""The Ingress controller: Ingresses of kompy's IngressClasses served on 127.0.0.1 (HTTP and
HTTPS with SNI, TLS passthrough and re-encryption), routed to the ready endpoints of their
backend Services."""
