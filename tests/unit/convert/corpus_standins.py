"""What the awesome-compose repositories hold next to their Compose files, as stand-ins.

The shared corpus has only the Compose files (../shared/corpus/SOURCES.md). Converting them
bare would turn every bind mount into an empty claim and fail on every secret file, which
is not what a user of those repositories gets. So each project is copied with files of the
same paths, kinds and sizes as in docker/awesome-compose at the corpus commit (18f59bdb):
Dockerfiles in the build contexts, secret files, bind-mounted configuration whose host names
are the ones the real files use (nginx proxies to ``backend:8000``, logstash sends to
``http://es:9200``, grafana reads ``http://prometheus:9090``), and the big files that decide
what a conversion can do (angular's 432 KB package-lock.json, logstash's 1.9 MB nginx.log).
The contents are kompy's own; only paths, sizes and the names they refer to follow the
repositories.

``REACHES`` lists the (host, port) each project's code or configuration connects to, read
from those repositories: after conversion each must be a Service of the namespace.
"""

from __future__ import annotations

import shutil
from pathlib import Path

DOCKERFILE = "FROM scratch\nCOPY . /app\n"
PASSWORD = "db-stand-in\n"


def _nginx_proxy(upstream: str) -> str:
    return ("server {\n    listen 80;\n    location / {\n"
            f"        proxy_pass http://{upstream};\n    }}\n}}\n")


def _sized(size: int, line: str) -> str:
    """Text of exactly ``size`` bytes made of ``line`` repeated."""
    return (line * (size // len(line) + 1))[:size]


def _binary(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + bytes(range(size % 256))


STAND_INS: dict[str, dict[str, str | bytes]] = {
    "angular": {
        "angular/Dockerfile": DOCKERFILE,
        "angular/package.json": '{"name": "angular", "scripts": {"start": "ng serve"}}\n',
        "angular/package-lock.json": _sized(432_171, '    "node_modules/x": {},\n'),
        "angular/angular.json": '{"version": 1}\n',
        "angular/src/main.ts": "import './app';\n",
        "angular/src/app/app.component.html": _sized(24_617, "<p>angular</p>\n"),
    },
    "aspnet-mssql": {"app/aspnetapp/Dockerfile": DOCKERFILE},
    "elasticsearch-logstash-kibana": {
        "logstash/pipeline/logstash-nginx.config": (
            'input { file { path => "/home/nginx.log" start_position => "beginning" } }\n'
            'output { elasticsearch { hosts => ["http://es:9200"] index => "nginx" } }\n'),
        "logstash/nginx.log": _sized(1_912_240, '{"remote_ip": "10.0.0.1", "agent": "x"}\n'),
    },
    "flask": {"app/Dockerfile": DOCKERFILE, "app/app.py": "print('flask')\n",
              "app/requirements.txt": "flask\n"},
    "nginx-aspnet-mysql": {"backend/Dockerfile": DOCKERFILE, "db/password.txt": PASSWORD,
                           "proxy/Dockerfile": DOCKERFILE,
                           "proxy/conf": _nginx_proxy("backend:8000")},
    "nginx-flask-mysql": {"backend/Dockerfile": DOCKERFILE, "db/password.txt": PASSWORD,
                          "proxy/Dockerfile": DOCKERFILE,
                          "proxy/conf": _nginx_proxy("backend:8000")},
    "nginx-golang-mysql": {"backend/Dockerfile": DOCKERFILE, "db/password.txt": PASSWORD,
                           "proxy/nginx.conf": _nginx_proxy("backend:8000")},
    "nginx-nodejs-redis": {
        "web/Dockerfile": DOCKERFILE, "web/server.js": "redis.createClient({host: 'redis'})\n",
        "nginx/Dockerfile": DOCKERFILE,
        "nginx/nginx.conf": "upstream loadbalancer { server web1:5000; server web2:5000; }\n"
                            + _nginx_proxy("loadbalancer")},
    "pihole-cloudflared-DoH": {".env": (
        "TIMEZONE=Etc/UTC\nPIHOLE_PW=stand-in\nPIHOLE_ROUTER_IP=192.168.178.1\n"
        "PIHOLE_NETWORK_DOMAIN=fritz.box\nPIHOLE_REVERSE_DNS=192.168.178.0/24\n"
        "PIHOLE_HOST_IP=192.168.178.2\nPIHOLE_HOST_IPV6=\n")},
    "prometheus-grafana": {
        "prometheus/prometheus.yml": "scrape_configs:\n- job_name: prometheus\n"
                                     "  static_configs: [{targets: ['localhost:9090']}]\n",
        "grafana/datasource.yml": "apiVersion: 1\ndatasources:\n- name: Prometheus\n"
                                  "  type: prometheus\n  url: http://prometheus:9090\n"},
    "react-express-mysql": {
        "backend/Dockerfile": DOCKERFILE, "db/password.txt": PASSWORD,
        "backend/package.json": '{"scripts": {"start-watch": "nodemon src/index.js"}}\n',
        "backend/package-lock.json": _sized(101_697, '    "node_modules/y": {},\n'),
        "backend/src/index.js": "require('./server');\n",
        "backend/src/config.js": "module.exports = {host: process.env.DATABASE_HOST};\n",
        "frontend/Dockerfile": DOCKERFILE, "frontend/src/index.js": "import App from './App';\n",
        "frontend/src/setupProxy.js": "module.exports = proxy('/api', "
                                      "{target: 'http://backend:80'});\n"},
    "react-nginx": {"Dockerfile": DOCKERFILE, ".nginx/nginx.conf": "server { listen 80; }\n"},
    "sparkjava": {"sparkjava/Dockerfile": DOCKERFILE},
    "spring-postgres": {"backend/Dockerfile": DOCKERFILE, "db/password.txt": PASSWORD},
    "vuejs": {
        "vuejs/Dockerfile": DOCKERFILE, "vuejs/package.json": '{"name": "vuejs"}\n',
        "vuejs/yarn.lock": _sized(278_482, '"x@^1.0.0":\n  version "1.0.0"\n'),
        "vuejs/src/main.js": "import Vue from 'vue';\n",
        "vuejs/src/assets/logo.png": _binary(39_135)},
    "wasmedge-mysql-nginx": {"backend/Dockerfile": DOCKERFILE,
                             "frontend/index.html": "<script src='js/app.js'></script>\n",
                             "frontend/js/app.js": "fetch('http://localhost:8080/orders');\n"},
}

# (host, port) that each project's code or configuration connects to (the real files).
REACHES: dict[str, list[tuple[str, int]]] = {
    "elasticsearch-logstash-kibana": [("es", 9200), ("elasticsearch", 9200)],  # logstash, kibana
    "gitea-postgres": [("db", 5432)],
    "nextcloud-postgres": [("db", 5432)],
    "nginx-aspnet-mysql": [("backend", 8000), ("db", 3306)],
    "nginx-flask-mysql": [("backend", 8000), ("db", 3306)],
    "nginx-golang-mysql": [("backend", 8000), ("db", 3306)],
    "nginx-nodejs-redis": [("web1", 5000), ("web2", 5000), ("redis", 6379)],
    "prometheus-grafana": [("prometheus", 9090)],
    "react-express-mysql": [("backend", 80), ("db", 3306)],
    "spring-postgres": [("db", 5432)],
    "wasmedge-mysql-nginx": [("db", 3306)],
    "wordpress-mysql": [("db", 3306)],
}


def materialise(source: Path, into: Path) -> Path:
    """A copy of the corpus project ``source`` with its repository's files, under ``into``."""
    project = into / source.name
    shutil.copytree(source, project)
    for relative, content in STAND_INS.get(source.name, {}).items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return project
