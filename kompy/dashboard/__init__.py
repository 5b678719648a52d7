"""``kompy dashboard``: the cluster and the dev loop in a browser.

A client of the Kubernetes API and nothing more (any cluster a kubeconfig reaches): informers
feed server-rendered pages (jinja2, htmx) over server-sent events; actions call the same
functions as the CLI. Served on 127.0.0.1 only, behind a one-time login link.
"""
