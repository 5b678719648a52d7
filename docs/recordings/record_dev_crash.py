"""Records a real ``kompy dev`` session with a crash and a recovery, for docs/dev.md.

    python3 docs/recordings/record_dev_crash.py      # needs a Docker engine and chromium

It runs ``kompy dev`` on a pseudo-terminal (so kompy colours its output) in a fresh cluster of
its own, on a small busybox project whose start script is synced and restarted
(``sync+restart``) and whose page is synced (``sync``): edits the page, breaks the script,
fixes it, presses Ctrl-C. The captured output is written as it came (``dev-crash.ansi``),
rendered to HTML (``dev-crash.html``, the few SGR colours kompy uses) and to a PNG by headless
chromium (``dev-crash.png``).
"""

from __future__ import annotations

import html
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMPOSE = """\
name: crashy
services:
  web:
    build: ./web
    image: crashy-web:dev
    ports:
      - "{port}:8000"
    develop:
      watch:
        - path: ./web/www
          action: sync
          target: /www
        - path: ./web/app
          action: sync+restart
          target: /app
"""
SERVE = "httpd -f -p 8000 -h /www & trap 'kill $!; exit 0' TERM; wait\n"
COLOURS = {"31": "#f0605e", "32": "#5fd75f", "33": "#e5c07b", "36": "#56b6c2", "35": "#c678dd",
           "34": "#61afef"}


def main() -> int:
    port = 18097
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "crashy"
        (project / "web" / "www").mkdir(parents=True)
        (project / "web" / "app").mkdir()
        (project / "compose.yaml").write_text(COMPOSE.format(port=port))
        (project / "web" / "Dockerfile").write_text(
            'FROM kompy/busybox:1\nCOPY www /www\nCOPY app /app\nCMD ["sh", "/app/start.sh"]\n')
        (project / "web" / "www" / "index.html").write_text("page 1\n")
        script = project / "web" / "app" / "start.sh"
        script.write_text("echo starting version 1\necho 1 > /www/version.txt\n" + SERVE)
        env = {**os.environ, "KOMPY_HOME": f"{tmp}/home", "KOMPY_CLUSTER": "recording",
               "COLUMNS": "110", "TERM": "xterm"}
        env.pop("NO_COLOR", None)
        data = _session(project, env, port, script)
        subprocess.run([sys.executable, "-m", "kompy", "cluster", "reset", "--yes"], env=env,
                       capture_output=True, timeout=180)
    (HERE / "dev-crash.ansi").write_bytes(data)
    page = HERE / "dev-crash.html"
    page.write_text(render(data.decode(errors="replace")))
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        lines = render_lines(data.decode(errors="replace"))
        height = 40 + 18 * len(lines)
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", f"--window-size=1100,{height}",
                        f"--screenshot={HERE / 'dev-crash.png'}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
    return 0


def _session(project: Path, env: dict[str, str], port: int, script: Path) -> bytes:
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "kompy", "dev"], cwd=project, env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(slave)
    out = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            out.extend(chunk)

    threading.Thread(target=read, daemon=True).start()

    def until(probe: object, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not probe() and time.monotonic() < deadline:  # type: ignore[operator]
            time.sleep(0.1)

    def served(path: str) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as answer:
                return str(answer.read().decode().strip())
        except OSError:
            return None

    until(lambda: b"watching" in out, 240)
    (project / "web" / "www" / "index.html").write_text("page 2, edited\n")
    until(lambda: served("/index.html") == "page 2, edited", 30)
    time.sleep(1)
    mark = len(out)
    script.write_text("echo starting version 2\necho 'boom: GREETING is not set' >&2\nexit 3\n")
    until(lambda: b"crashed after the change" in out[mark:], 30)
    time.sleep(2.5)
    script.write_text("echo starting version 3\necho 3 > /www/version.txt\n" + SERVE)
    until(lambda: served("/version.txt") == "3" and b"up to date" in out[mark:], 60)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    time.sleep(0.2)
    os.close(master)
    return bytes(out)


def render_lines(text: str) -> list[str]:
    """The screen's lines: a live line taken back (``\\r`` + erase) leaves nothing behind."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        kept = raw.split("\r\x1b[K")[-1]   # what remained after the last take-back
        lines.append(kept.split("\r")[-1])
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def render(text: str) -> str:
    body = "\n".join(_line_html(line) for line in render_lines(text))
    return ("<!doctype html><meta charset=utf-8><title>kompy dev: a crash and a recovery"
            "</title><style>body{margin:0;background:#1e2127;}pre{margin:0;padding:16px 20px;"
            "color:#d7dae0;font:14px/18px 'DejaVu Sans Mono',monospace;white-space:pre}"
            f"</style><pre>{body}</pre>\n")


def _line_html(line: str) -> str:
    out, style = [], {"bold": False, "colour": ""}
    for part in re.split(r"(\x1b\[[0-9;]*m)", line):
        codes = re.fullmatch(r"\x1b\[([0-9;]*)m", part)
        if codes:
            for code in (codes[1] or "0").split(";"):
                if code == "0":
                    style = {"bold": False, "colour": ""}
                elif code == "1":
                    style["bold"] = True
                elif code in COLOURS:
                    style["colour"] = COLOURS[code]
            continue
        if not part:
            continue
        css = (f"color:{style['colour']};" if style["colour"] else "") + \
            ("font-weight:bold;" if style["bold"] else "")
        text = html.escape(part)
        out.append(f'<span style="{css}">{text}</span>' if css else text)
    return "".join(out)


if __name__ == "__main__":
    sys.exit(main())
