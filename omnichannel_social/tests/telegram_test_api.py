"""npm's ``telegram-test-api`` (a Bot API emulator written by others), installed into
``.local/node`` and run on 127.0.0.1 for the tests.

``scripts/devenv.py`` calls :func:`ensure_installed` before the tests when ``npm`` exists; the
test calls it too, so that running pytest alone works. What the package does (read from its
source, version 4.2.1): bot methods ``/bot<token>/<method>`` for getMe, setWebhook,
deleteWebhook, sendMessage, getUpdates, answerCallbackQuery, editMessageText and a few more
(others answer HTTP 500 ``{"message"}``); a client API (``POST /sendMessage``, ``/sendCommand``,
``/sendCallback``, ``/getUpdates``, ``/getUpdatesHistory``) for the user's side. With a webhook
set, a user's update is POSTed to it, without any ``X-Telegram-Bot-Api-Secret-Token``.
"""

import json
import os
import queue
import resource
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

PACKAGE = "telegram-test-api"
VERSION = "4.2.1"
ROOT = Path(__file__).resolve().parents[2]
PREFIX = ROOT / ".local" / "node"
MODULE = PREFIX / "node_modules" / PACKAGE

SERVER_JS = """
const TelegramServer = require(process.argv[1]);
process.on('unhandledRejection', (error) => console.log('REJECTED ' + (error && error.message)));
const server = new TelegramServer({port: Number(process.argv[2]), host: '127.0.0.1', storeTimeout: 600});
server.start().then(() => console.log('READY ' + server.config.apiURL));
"""


def missing_tools():
    """Why the package cannot run here (no node or npm), or None."""
    absent = [tool for tool in ("node", "npm") if not shutil.which(tool)]
    return f"{' and '.join(absent)} not installed" if absent else None


def installed():
    try:
        return json.loads((MODULE / "package.json").read_text())["version"] == VERSION
    except (OSError, ValueError, KeyError):
        return False


def ensure_installed():
    """npm install telegram-test-api@VERSION into .local/node (gitignored), once."""
    if installed() or missing_tools():
        return
    PREFIX.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if not env.get("NODE_EXTRA_CA_CERTS"):
        # Node trusts only its own CA list; behind a proxy whose CA the system trusts (as apt and
        # pip do), it must use the system's, or the registry's certificate is refused.
        env["NODE_OPTIONS"] = f"{env.get('NODE_OPTIONS', '')} --use-openssl-ca".strip()
    subprocess.run(
        ["npm", "install", "--prefix", str(PREFIX), "--no-audit", "--no-fund", "--no-save", f"{PACKAGE}@{VERSION}"],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=300,
        env=env,
    )


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _unlimited_address_space():
    """Odoo's server caps its address space (limit_memory_hard) and a child inherits the cap;
    Node reserves far more address space than it uses (WebAssembly), and fails under it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


class TelegramTestApi:
    """The emulator as a child process; ``url`` is its base URL, ``lines`` what it printed."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines = queue.Queue()
        self.process = None

    def __enter__(self):
        self.process = subprocess.Popen(
            ["node", "-e", SERVER_JS, str(MODULE), str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_unlimited_address_space,
        )
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_for("READY", timeout=30)
        return self

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, prefix, timeout=10):
        """The next printed line starting with ``prefix``; AssertionError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line.startswith(prefix):
                return line
            seen.append(line)
        raise AssertionError(f"telegram-test-api printed no {prefix!r} line in {timeout}s; it printed {seen!r}")
