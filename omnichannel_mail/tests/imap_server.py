"""A throw-away Dovecot IMAP server on 127.0.0.1 for the email tests.

Plain Python, no Odoo: importable as ``odoo.addons.omnichannel_mail.tests.imap_server``
or by path, and runnable on its own (``python3 imap_server.py`` serves until Ctrl+C)::

    with LocalImapServer() as imap:
        imap.append(raw_bytes)
        # point the code under test at imap.host, imap.port, imap.user, imap.password
        assert imap.unseen_count() == 0

Each server has a private configuration, mailbox, log and runtime directory in a fresh
temporary directory, listens on a free port with plain IMAP (no TLS) and one user, and
nothing of it is left behind when the ``with`` block ends.  Dovecot never runs mail
processes as root: as root they run as ``nobody``/``nogroup`` and the login and internal
processes as the package's ``dovenull``/``dovecot`` users; as any other user everything
runs as that user.

When Dovecot is missing, :func:`ensure_dovecot` installs it as root (Debian/Ubuntu) or
raises with the command to run; the tests that need it are never skipped.
"""

import contextlib
import grp
import imaplib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

APT_PACKAGE = "dovecot-imapd"
INSTALL_CMD = f"apt-get install -y --no-install-recommends {APT_PACKAGE}"
SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
SYSTEM_PORTS = (143, 993)
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0


# --------------------------------------------------------------------- install
def _which(name):
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    return shutil.which(name, path=path)


def _port_open(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _system_dovecot_listening():
    return [port for port in SYSTEM_PORTS if _port_open("127.0.0.1", port)]


def _stop_system_dovecot():
    """Stop and disable a system Dovecot service (the package enables one on ports 143/993)."""
    if Path("/run/systemd/system").is_dir() and _which("systemctl"):
        subprocess.run(
            ["systemctl", "disable", "--now", "dovecot.socket", "dovecot.service"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    elif _which("service"):
        subprocess.run(
            ["service", "dovecot", "stop"], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )


def ensure_dovecot():
    """Return the path of the ``dovecot`` binary, installing Dovecot first when it is missing.

    Only root installs (``apt-get install -y --no-install-recommends dovecot-imapd``, with
    service start-up denied through ``policy-rc.d`` and any system Dovecot stopped and
    disabled afterwards); anyone else gets a RuntimeError naming the command to run.
    """
    binary = _which("dovecot")
    if binary and _which("doveconf"):
        return binary
    if os.geteuid() != 0 or not _which("apt-get"):
        raise RuntimeError(
            f"Dovecot is needed by the IMAP tests and is not installed. Install it with "
            f"`sudo {INSTALL_CMD}` (Debian/Ubuntu; elsewhere the distribution's dovecot IMAP package) "
            f"and run the tests again; they are never skipped."
        )
    print(f"[omnichannel] installing Dovecot for the IMAP tests ({INSTALL_CMD})", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    policy = Path("/usr/sbin/policy-rc.d")
    own_policy = not policy.exists()
    if own_policy:  # tell the package's maintainer scripts not to start the system service
        policy.write_text("#!/bin/sh\n# written by omnichannel_mail/tests/imap_server.py\nexit 101\n")
        policy.chmod(0o755)
    try:
        cmd = INSTALL_CMD.split()
        if subprocess.run(cmd, env=env, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
            subprocess.run(cmd, env=env, check=True)
    finally:
        if own_policy:
            policy.unlink(missing_ok=True)
    _stop_system_dovecot()
    busy = _system_dovecot_listening()
    if busy:
        raise RuntimeError(
            f"Dovecot was installed but something still listens on 127.0.0.1 port(s) {busy}; "
            f"stop the system service (systemctl disable --now dovecot.socket dovecot.service)."
        )
    binary = _which("dovecot")
    if not binary or not _which("doveconf"):
        raise RuntimeError(f"`{INSTALL_CMD}` ran but no dovecot/doveconf binary was found")
    return binary


# ---------------------------------------------------------------------- server
def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


class LocalImapServer:
    """A private Dovecot (plain IMAP on 127.0.0.1, one user) for the duration of a ``with`` block."""

    host = "127.0.0.1"

    def __init__(self, user="soporte", password=None):
        self.user = user
        self.password = password or secrets.token_urlsafe(12)
        self.port = None
        self.directory = None
        self.process = None

    # ------------------------------------------------------------- lifecycle
    def __enter__(self):
        binary = ensure_dovecot()
        self.directory = Path(tempfile.mkdtemp(prefix="omni-imap-"))
        try:
            for _attempt in range(3):  # another process may take the free port before Dovecot binds it
                self.port = _free_port()
                conf = self._write_config()
                self._check_config(binary, conf)
                if self._start(binary, conf):
                    return self
            raise RuntimeError(f"Dovecot could not bind a free port on {self.host}:\n{self.log_tail()}")
        except BaseException:
            self._stop()
            shutil.rmtree(self.directory, ignore_errors=True)
            raise

    def __exit__(self, *exc):
        try:
            self._stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
        return False

    def _write_config(self):
        base = self.directory
        # Dovecot's login processes chroot into base_dir/login and its services run unprivileged:
        # every parent directory must be traversable by them.
        base.chmod(0o755)
        if os.geteuid() == 0:
            mail_user, mail_group = "nobody", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
            internal_user = "dovecot" if _user_exists("dovecot") else "nobody"
            internal_group = grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name
            login_user = "dovenull" if _user_exists("dovenull") else "nobody"
        else:
            me = pwd.getpwuid(os.geteuid())
            mail_user, mail_group = me.pw_name, grp.getgrgid(os.getegid()).gr_name
            internal_user, internal_group, login_user = me.pw_name, mail_group, me.pw_name
        mail_uid = pwd.getpwnam(mail_user).pw_uid
        mail_gid = grp.getgrnam(mail_group).gr_gid
        for sub in ("mail", "home"):
            path = base / sub
            path.mkdir(exist_ok=True)
            os.chown(path, mail_uid, mail_gid)
        # Read by the auth process, which runs as the internal user.
        passwd = base / "passwd"
        passwd.write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        passwd.chmod(0o600)
        os.chown(passwd, pwd.getpwnam(internal_user).pw_uid, -1)
        log = base / "dovecot.log"
        conf = base / "dovecot.conf"
        conf.write_text(
            f"""# private Dovecot for omnichannel_mail's tests (omnichannel_mail/tests/imap_server.py)
protocols = imap
listen = {self.host}
base_dir = {base}/run
state_dir = {base}/state
instance_name = omni-imap-{self.port}
log_path = {log}
info_log_path = {log}
debug_log_path = {log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = {min(mail_uid, 500)}
mail_location = maildir:{base}/mail/%u
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={base}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
            + (
                ""
                if os.geteuid() == 0
                else """service imap-login {
  chroot =
}
service anvil {
  chroot =
}
"""
            )
        )
        return conf

    def _check_config(self, binary, conf):
        doveconf = _which("doveconf") or str(Path(binary).with_name("doveconf"))
        res = subprocess.run([doveconf, "-n", "-c", str(conf)], capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"doveconf rejects {conf} (exit {res.returncode}):\n{res.stderr}{res.stdout}")

    def _start(self, binary, conf):
        """Start Dovecot and wait for its greeting; False when the port was taken meanwhile."""
        (self.directory / "dovecot.log").unlink(missing_ok=True)  # only this attempt's lines
        with open(self.directory / "dovecot.stderr", "wb") as stderr:  # what it says before its log opens
            self.process = subprocess.Popen(
                [binary, "-F", "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # its own process group: _stop can kill every child
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "Address already in use" in self.log_tail():
                    self._stop()
                    return False
                raise RuntimeError(f"Dovecot exited with code {self.process.returncode}:\n{self.log_tail()}")
            if self._greets():
                return True
            time.sleep(0.05)
        raise RuntimeError(
            f"Dovecot did not greet on {self.host}:{self.port} within {START_TIMEOUT:.0f} s:\n{self.log_tail()}"
        )

    def _greets(self):
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                sock.settimeout(2)
                return sock.recv(1024).startswith(b"* OK")
        except OSError:
            return False

    def _stop(self):
        proc, self.process = self.process, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()  # the master stops its children and exits
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # any child the master left behind

    def log_tail(self, lines=30):
        """The last lines of Dovecot's log and standard error, for error messages."""
        text = ""
        for name in ("dovecot.stderr", "dovecot.log"):
            path = self.directory and self.directory / name
            if path and path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    # --------------------------------------------------------------- helpers
    @contextlib.contextmanager
    def client(self):
        """A logged-in ``imaplib.IMAP4`` connection, logged out afterwards."""
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            conn.login(self.user, self.password)
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.logout()

    def append(self, raw_bytes, mailbox="INBOX", flags=None):
        """Store a raw RFC 5322 message (unseen unless ``flags`` says otherwise)."""
        with self.client() as conn:
            if mailbox.upper() != "INBOX":
                conn.create(mailbox)  # answers NO when it exists already
            typ, data = conn.append(mailbox, flags, imaplib.Time2Internaldate(time.time()), raw_bytes)
            if typ != "OK":
                raise RuntimeError(f"IMAP APPEND to {mailbox} failed: {data!r}")

    def count(self, mailbox="INBOX", criteria="ALL"):
        """How many messages of ``mailbox`` match the IMAP SEARCH ``criteria``."""
        with self.client() as conn:
            typ, data = conn.select(mailbox, readonly=True)
            if typ != "OK":
                raise RuntimeError(f"IMAP SELECT {mailbox} failed: {data!r}")
            typ, data = conn.search(None, criteria)
            if typ != "OK":
                raise RuntimeError(f"IMAP SEARCH {criteria} failed: {data!r}")
            return len(data[0].split())

    def unseen_count(self, mailbox="INBOX"):
        return self.count(mailbox, "UNSEEN")


if __name__ == "__main__":
    with LocalImapServer() as server:
        print(f"IMAP on {server.host}:{server.port} user {server.user} password {server.password}")
        print(f"directory {server.directory}; Ctrl+C stops")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
