#!/usr/bin/env python3
"""Set up, run and test the Omnichannel suite with nothing but Python and PostgreSQL.

``make run`` and ``make test`` call this script.  Every step is idempotent: it
checks what already exists and only builds what is missing (``--rebuild``
drops the project databases first).

Odoo 18.0 Community is found in this order:
  1. already importable by the Python running this script;
  2. ``ODOO_SRC``: a path to an Odoo 18.0 source tree, installed in place;
  3. Odoo's official 18.0 source archive, when the machine is online.

Odoo and its pinned requirements go into the project's virtualenv
(``~/.local/share/omnichannel-odoo/venv``), never into the Python running
``make``, unless ``PYTHON`` names an interpreter (``OMNI_PYTHON``, set by the
Makefile).  Odoo is installed in place in "compat" editable mode: a ``.pth``
entry puts the source tree on ``sys.path``, so an ``odoo-addon-*`` wheel that
creates ``site-packages/odoo/addons`` cannot shadow it as a namespace package.

PostgreSQL: with ``PGHOST`` (or another standard ``PG*`` variable) or
``ODOO_RC`` set, that server is used.  Otherwise a project-local cluster, keyed
by the checkout, lives in ``.local/pg`` (or, as root, in
``/var/lib/omnichannel-odoo/<checkout>``, which the ``postgres`` user can reach
wherever the checkout is) and listens on a Unix socket only.  It runs with
PostgreSQL's durable defaults; only the test database trades durability for
speed (``synchronous_commit = off``).
"""

import argparse
import hashlib
import importlib.util
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
ROOT_PG_HOMES = Path("/var/lib/omnichannel-odoo")  # as root: the postgres user cannot enter /root


def _pg_home():
    """The local cluster's directory. As root it lives outside the checkout, which may sit in a
    private directory (root's home, a ``mktemp -d`` folder) the postgres user cannot traverse;
    a token kept in the checkout keys it, so a fresh clone at the same path gets a fresh cluster."""
    if os.geteuid() != 0:
        return LOCAL
    LOCAL.mkdir(exist_ok=True)
    key_file = LOCAL / "pg-home"
    if not key_file.exists():
        key_file.write_text(f"{ROOT.name}-{secrets.token_hex(6)}")
    return ROOT_PG_HOMES / key_file.read_text().strip()


PG_HOME = _pg_home()
PGDATA = PG_HOME / "pg"
SOCKET_NAME = PG_HOME / "pg-socket"  # which run-<token> directory the cluster listens in
PGPORT = os.environ.get("OMNI_PGPORT", "54329")
PGUSER = "odoo"
CONF = LOCAL / "odoo.conf"
ADDONS = [
    "omnichannel_base",
    "omnichannel_mail",
    "omnichannel_social",
    "omnichannel_voip",
    "omnichannel_pos",
    "omnichannel_reports",
]
# Odoo addons the suite works with when they are installed, without depending on them: the
# test database has them, so that those paths are tested too (SMS Marketing through an SMS channel,
# loyalty points in the POS customer context).
TEST_EXTRAS = ["mass_mailing_sms", "pos_loyalty"]
RUN_DB = os.environ.get("OMNI_DB", "omnichannel")
TEST_DB = os.environ.get("OMNI_TEST_DB", "omnichannel_test")
ODOO_ARCHIVE = "https://nightly.odoo.com/18.0/nightly/src/odoo_18.0.latest.tar.gz"
SHARE = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "omnichannel-odoo"
VENV = SHARE / "venv"  # Odoo and its pinned requirements, outside the checkout (ensure_interpreter)


def say(msg):
    print(f"[omnichannel] {msg}", flush=True)


def die(msg):
    print(f"\n[omnichannel] ERROR: {msg}\n", file=sys.stderr, flush=True)
    sys.exit(2)


def run(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run([str(c) for c in cmd], **kw)


def pip(*args):
    run([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q", *args])


# --------------------------------------------------------------------------- Odoo
def _odoo_version():
    # odoo.__file__ is None when `odoo` resolved to a namespace package (see _install_odoo_source)
    probe = "import odoo, odoo.release as r; assert odoo.__file__; print('%s.%s' % r.version_info[:2])"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return res.stdout.strip() if res.returncode == 0 else None


def _install_odoo_source(src):
    src = Path(src).resolve()
    if not (src / "setup.py").exists() or not (src / "odoo" / "release.py").exists():
        die(f"ODOO_SRC={src} is not an Odoo source tree: it needs setup.py and odoo/release.py.")
    say(f"installing Odoo's Python requirements from {src}/requirements.txt into {sys.prefix}")
    fixed = []
    for line in (src / "requirements.txt").read_text().splitlines():
        # cbor2 5.4.2 does not build on Python 3.11 (5.4.6 does); python-ldap needs
        # system headers and only serves the auth_ldap module, which we do not use.
        if line.startswith("cbor2==5.4.2"):
            line = line.replace("5.4.2", "5.4.6")
        if line.startswith("python-ldap"):
            continue
        fixed.append(line)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        req.write("\n".join(fixed) + "\n")
    pip("-r", req.name)
    say(f"installing Odoo from {src} (in place)")
    # "compat" puts the tree on sys.path through a .pth file. The default (strict) editable mode
    # uses an import hook that loses to site-packages/odoo/, a namespace directory that any
    # odoo-addon-* wheel creates: `import odoo` would then find an empty package.
    pip("--no-deps", "-e", src, "--config-settings", "editable_mode=compat")


def ensure_interpreter():
    """Re-run this script with the project's virtualenv, creating it when missing.

    Odoo pins old releases of common packages (werkzeug, cryptography, urllib3): installed into
    a shared Python they would break other software. Only an interpreter named with
    ``PYTHON=...`` (the Makefile passes it as OMNI_PYTHON) is used as it is.
    """
    if os.environ.get("OMNI_REEXEC") or os.environ.get("OMNI_PYTHON"):
        return
    venv_python = VENV / "bin" / "python"
    if not venv_python.exists():
        say(f"creating the project's virtualenv {VENV} (Odoo and its pinned requirements go there)")
        if run([sys.executable, "-m", "venv", VENV], check=False).returncode != 0:
            die(
                "Could not create a virtualenv: install python3-venv (apt-get install python3-venv) "
                "and run the command again."
            )
    os.execve(venv_python, [str(venv_python), __file__, *sys.argv[1:]], dict(os.environ, OMNI_REEXEC="1"))


def ensure_odoo():
    version = _odoo_version()
    if version == "18.0":
        return
    if version:
        die(
            f"{sys.executable} imports Odoo {version}; this suite needs Odoo 18.0. "
            "Use another Python (PYTHON=/path/to/python3 make ...) or uninstall that Odoo."
        )
    if os.environ.get("ODOO_SRC"):
        _install_odoo_source(os.environ["ODOO_SRC"])
    else:
        target = SHARE / "odoo-18.0"
        if not (target / "setup.py").exists():
            say(f"Odoo 18.0 is not importable; downloading {ODOO_ARCHIVE}")
            try:
                with urllib.request.urlopen(ODOO_ARCHIVE, timeout=60) as resp, tempfile.TemporaryFile() as tmp:
                    shutil.copyfileobj(resp, tmp)
                    tmp.seek(0)
                    with tarfile.open(fileobj=tmp) as tar:
                        top = tar.getmembers()[0].name.split("/")[0]
                        try:
                            tar.extractall(SHARE, filter="data")
                        except TypeError:  # Python < 3.10.12 has no extraction filters
                            tar.extractall(SHARE)
                (SHARE / top).rename(target)
            except OSError as exc:
                die(
                    f"Odoo 18.0 Community is not importable by {sys.executable}, ODOO_SRC is not "
                    f"set, and downloading {ODOO_ARCHIVE} failed ({exc}).\n"
                    "Do one of these, then run the command again:\n"
                    "  - ODOO_SRC=/path/to/odoo-18.0 make run   (a source tree with setup.py and odoo/)\n"
                    "  - pip install the Odoo 18.0 source into this Python yourself"
                )
        _install_odoo_source(target)
    if _odoo_version() != "18.0":
        die("Odoo 18.0 was installed but still cannot be imported; see pip's output above.")


def ensure_python_deps():
    req = (ROOT / "requirements.txt").read_text()
    # Installed once per requirements.txt content and interpreter.
    LOCAL.mkdir(exist_ok=True)
    stamp = LOCAL / f"requirements-{Path(sys.executable).name}.stamp"
    digest = hashlib.sha256((req + sys.executable).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    say("installing the suite's Python requirements")
    pip("-r", ROOT / "requirements.txt")
    stamp.write_text(digest)


# --------------------------------------------------------------------- PostgreSQL
def _external_db():
    return any(os.environ.get(v) for v in ("PGHOST", "PGPORT", "PGUSER", "ODOO_RC"))


def _pg_bin(name):
    found = shutil.which(name)
    if found:
        return found
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / name).exists():
            return str(base / name)
    die(
        f"PostgreSQL's {name} was not found. Install the server package "
        "(apt-get install postgresql) or point PGHOST at an existing server."
    )


def _as_pg_owner(cmd):
    """PostgreSQL refuses to run as root: run the cluster as the postgres user then."""
    if os.geteuid() != 0:
        return cmd
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        die("Running as root, and there is no 'postgres' system user to own the local cluster.")
    return ["runuser", "-u", "postgres", "--", *cmd]


def _pg_socket_dir(new=False):
    """The socket directory of the local cluster, unique to it.

    A server left running from a deleted checkout at the same path removes its socket
    when it notices, which must not be the socket of the cluster that replaced it.
    """
    PG_HOME.mkdir(parents=True, exist_ok=True)
    if new or not SOCKET_NAME.exists():
        SOCKET_NAME.write_text(f"run-{secrets.token_hex(4)}")
    return PG_HOME / SOCKET_NAME.read_text().strip()


def _orphan_clusters():
    """As root, clusters live outside their checkout: those whose checkout no longer holds
    their key (deleted, or moved: their `make run` data may still matter). Never removed here."""
    orphans = []
    for home in sorted(ROOT_PG_HOMES.glob("*/checkout")):
        checkout = Path(home.read_text().strip())
        key_file = checkout / ".local" / "pg-home"
        if home.parent != PG_HOME and (not key_file.exists() or key_file.read_text().strip() != home.parent.name):
            orphans.append(home.parent)
    return orphans


def ensure_postgres():
    if _external_db():
        return
    fresh = not (PGDATA / "PG_VERSION").exists()
    if os.geteuid() == 0:
        ROOT_PG_HOMES.mkdir(mode=0o755, parents=True, exist_ok=True)
        orphans = _orphan_clusters() if fresh else []
        if orphans:
            say(
                f"{len(orphans)} local cluster(s) in {ROOT_PG_HOMES} belong to no checkout any more "
                f"(e.g. {orphans[0]}): remove them with `rm -r` if their data is not needed"
            )
    pgrun = _pg_socket_dir(new=fresh)
    pgrun.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        (PG_HOME / "checkout").write_text(str(ROOT))
        os.chmod(PG_HOME, 0o755)
        shutil.chown(pgrun, "postgres")
    if fresh:
        say(f"creating a project-local PostgreSQL cluster in {PGDATA}")
        PGDATA.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(PGDATA, "postgres")
        run(
            _as_pg_owner(
                [_pg_bin("initdb"), "-D", PGDATA, "-U", PGUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]
            ),
            stdout=subprocess.DEVNULL,
        )
    status = run(_as_pg_owner([_pg_bin("pg_ctl"), "-D", PGDATA, "status"]), check=False, stdout=subprocess.DEVNULL)
    if status.returncode != 0:
        say(f"starting PostgreSQL on socket {pgrun} (port {PGPORT})")
        # PostgreSQL's durable defaults (fsync, full_page_writes, synchronous_commit): `make run`
        # serves real work and `make bench` must measure what a production server does. Only
        # `make test`'s connections relax synchronous_commit (PGOPTIONS, cmd_test).
        opts = (
            f"-c listen_addresses='' -c unix_socket_directories='{pgrun}' -p {PGPORT} "
            "-c max_connections=200 -c shared_buffers=512MB"
        )
        run(
            _as_pg_owner([_pg_bin("pg_ctl"), "-D", PGDATA, "-l", PGDATA / "server.log", "-o", opts, "-w", "start"]),
            stdout=subprocess.DEVNULL,
        )


def write_config():
    """An odoo.conf for the local cluster; ODOO_RC wins when given."""
    if os.environ.get("ODOO_RC"):
        return Path(os.environ["ODOO_RC"])
    LOCAL.mkdir(exist_ok=True)
    lines = [
        "[options]",
        f"addons_path = {ROOT}",
        f"data_dir = {LOCAL / 'data'}",
        "admin_passwd = admin",
        "without_demo = False",
        "http_interface = 127.0.0.1",
    ]
    if _external_db():
        for var, key in (
            ("PGHOST", "db_host"),
            ("PGPORT", "db_port"),
            ("PGUSER", "db_user"),
            ("PGPASSWORD", "db_password"),
        ):
            if os.environ.get(var):
                lines.append(f"{key} = {os.environ[var]}")
    else:
        lines += [f"db_host = {_pg_socket_dir()}", f"db_port = {PGPORT}", f"db_user = {PGUSER}"]
    CONF.write_text("\n".join(lines) + "\n")
    return CONF


def _odoo(conf, *args, **kw):
    return run([sys.executable, "-m", "odoo", "-c", conf, *args], **kw)


def _db_exists(conf, db):
    probe = (
        "import sys, odoo; odoo.tools.config.parse_config(['-c', sys.argv[1]]);"
        "print(sys.argv[2] in odoo.service.db.list_dbs(force=True))"
    )
    res = run([sys.executable, "-c", probe, conf, db], capture_output=True, text=True)
    return res.stdout.strip().endswith("True")


def code_digest(addons=ADDONS):
    """sha256 of the files of ``addons``: a database built with other code gets updated."""
    h = hashlib.sha256()
    for addon in addons:
        for path in sorted((ROOT / addon).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(ROOT)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()


def ensure_database(conf, db, rebuild=False, extras=()):
    """A database with the six addons (and ``extras``) and their demo data, updated when the code changed."""
    modules = ",".join([*ADDONS, *extras])
    stamp = LOCAL / f"db-{db}.stamp"
    digest = code_digest() + "+".join(["", *extras])
    if rebuild and _db_exists(conf, db):
        say(f"dropping database {db} (--rebuild)")
        run(
            [
                sys.executable,
                "-c",
                "import sys, odoo; odoo.tools.config.parse_config(['-c', sys.argv[1]]);"
                "odoo.service.db.exp_drop(sys.argv[2])",
                conf,
                db,
            ]
        )
    if not _db_exists(conf, db):
        say(f"creating database {db} with {modules} and demo data (a few minutes)")
        _odoo(conf, "-d", db, "-i", modules, "--stop-after-init", "--log-level=warn")
        _set_admin_password(conf, db)
    elif not stamp.exists() or stamp.read_text() != digest:
        say(f"updating {modules} in {db}")
        # -i: an extra added since the database was made is installed; an installed one is updated
        _odoo(
            conf,
            "-d",
            db,
            "-u",
            ",".join(ADDONS),
            *(("-i", ",".join(extras)) if extras else ()),
            "--stop-after-init",
            "--log-level=warn",
        )
    stamp.write_text(digest)


def _set_admin_password(conf, db):
    # Demo databases already use admin/admin; this keeps it true on --without-demo too.
    code = (
        "import sys, odoo; odoo.tools.config.parse_config(['-c', sys.argv[1]]);"
        "reg = odoo.registry(sys.argv[2]);\n"
        "with reg.cursor() as cr:\n"
        "    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})\n"
        "    env.ref('base.user_admin').write({'login': 'admin', 'password': 'admin'})"
    )
    run([sys.executable, "-c", code, conf, db])


# --------------------------------------------------------------------- browser
def ensure_browser():
    try:
        import websocket  # noqa: F401  (Odoo's tours drive Chromium through it)
    except ImportError:
        pip("websocket-client")
    for name in ("google-chrome", "chromium", "chromium-browser", "google-chrome-stable"):
        if shutil.which(name):
            return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("installing Chromium for the UI tours (apt-get install chromium)")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        res = run(["apt-get", "install", "-y", "-q", "chromium"], check=False, env=env)
        if res.returncode != 0:
            run(["apt-get", "update", "-q"], env=env)
            run(["apt-get", "install", "-y", "-q", "chromium"], env=env)
        if shutil.which("chromium"):
            return
    die(
        "The UI tours need Chromium and none was found. Install it "
        "(sudo apt-get install chromium) and run the tests again; tours are never skipped."
    )


# ------------------------------------------------------------------ IMAP server
def ensure_dovecot():
    """The email tests run a private Dovecot; omnichannel_mail/tests/imap_server.py installs it when missing."""
    path = ROOT / "omnichannel_mail" / "tests" / "imap_server.py"
    spec = importlib.util.spec_from_file_location("omnichannel_imap_server", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        module.ensure_dovecot()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        die(str(exc))


# ------------------------------------------------------------ telegram-test-api
def ensure_telegram_test_api():
    """npm's telegram-test-api, the Bot API emulator the Telegram tests also run against, into
    .local/node (omnichannel_social/tests/telegram_test_api.py). Without npm the test says so and skips."""
    path = ROOT / "omnichannel_social" / "tests" / "telegram_test_api.py"
    spec = importlib.util.spec_from_file_location("omnichannel_telegram_test_api", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if module.missing_tools():
        say(f"telegram-test-api not installed ({module.missing_tools()}): its Telegram test will be skipped")
        return
    try:
        module.ensure_installed()
    except (OSError, subprocess.SubprocessError) as exc:
        die(f"npm could not install telegram-test-api into .local/node: {exc}")


# --------------------------------------------------------------------- commands
def setup(db, rebuild=False, extras=()):
    ensure_interpreter()
    ensure_odoo()
    ensure_python_deps()
    ensure_postgres()
    conf = write_config()
    ensure_database(conf, db, rebuild=rebuild, extras=extras)
    return conf


def _conf_addons_path(conf):
    import configparser  # noqa: PLC0415

    parser = configparser.ConfigParser()
    parser.read(conf)
    return parser.get("options", "addons_path", fallback=str(ROOT))


def cmd_run(args):
    conf = setup(RUN_DB, args.rebuild)
    port = os.environ.get("OMNI_HTTP_PORT", "8069")
    say(f"serving http://{args.listen}:{port} (database {RUN_DB}, login admin / admin); Ctrl+C stops")
    if args.listen != "127.0.0.1":
        say(f"WARNING: listening on {args.listen}: admin/admin and the demo API token are reachable from the network")
    listener = None
    if not args.no_ari:
        # The Asterisk listener is a process of its own (README, "Phone calls"): it follows the calls
        # of every Asterisk channel of the database, and waits (retrying) while no PBX answers.
        say("starting the Asterisk ARI listener (omnichannel-ari); --no-ari skips it")
        listener = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "odoo",
                f"--addons-path={_conf_addons_path(conf)}",
                "omnichannel-ari",
                "-c",
                str(conf),
                "-d",
                RUN_DB,
            ]
        )
    pbx = None
    if args.demo_pbx:
        say("starting the demo PBX (a simulated Asterisk on 127.0.0.1:8088; a demo customer calls every 3 minutes)")
        pbx = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "demo_pbx.py")])
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "odoo",
            "-c",
            str(conf),
            "-d",
            RUN_DB,
            "--db-filter",
            f"^{RUN_DB}$",
            "--http-interface",
            args.listen,
            "-p",
            port,
        ]
    )
    try:
        code = server.wait()
    except KeyboardInterrupt:  # Ctrl+C reached both children too: let them finish
        code = server.wait()
    finally:
        for process in (listener, pbx):
            if process and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
    sys.exit(code)


def cmd_test(args):
    ensure_interpreter()
    # Every connection of the test run (install, pytest) commits without waiting for the WAL
    # flush: a crash can lose the last commits of a disposable database, never corrupt it.
    os.environ["PGOPTIONS"] = (os.environ.get("PGOPTIONS", "") + " -c synchronous_commit=off").strip()
    ensure_browser()
    ensure_dovecot()
    ensure_telegram_test_api()
    conf = setup(TEST_DB, args.rebuild, extras=TEST_EXTRAS)
    paths = [str(ROOT / a) for a in ADDONS] + [str(ROOT / "tests")]
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        f"--odoo-config={conf}",
        f"--odoo-database={TEST_DB}",
        "--odoo-http",
        "--odoo-log-level=warn",
        "-p",
        "no:cacheprovider",
        *args.pytest_args,
        *([] if args.pytest_args else paths),
    ]
    say(" ".join(cmd))
    os.chdir(ROOT)
    sys.exit(subprocess.run(cmd).returncode)


def cmd_bench(args):
    """bench_ingest.py, then bench_timeline.py, bench_webhook.py, bench_voice.py, bench_pos.py and bench_reports.py.
    ``--only ingest|timeline|webhook|voice|pos|reports`` runs one of them; ``--timeline-<option> [value]`` goes to
    bench_timeline.py as ``--<option> [value]``, ``--webhook-<option> [value]`` to bench_webhook.py,
    ``--voice-<option> [value]`` to bench_voice.py, ``--pos-<option> [value]`` to bench_pos.py,
    ``--reports-<option> [value]`` to bench_reports.py; every other argument goes to bench_ingest.py.
    bench_webhook.py, bench_voice.py, bench_pos.py and bench_reports.py run on bench_ingest.py's database:
    its ``--db``, unless ``--webhook-db`` / ``--voice-db`` / ``--pos-db`` / ``--reports-db`` is given
    (bench_pos.py and bench_reports.py work on copies of it)."""
    only, ingest_args, timeline_args, webhook_args, voice_args, pos_args = None, [], [], [], [], []
    reports_args = []
    bench_args = list(args.bench_args)
    while bench_args:
        arg = bench_args.pop(0)
        if arg == "--only" or arg.startswith("--only="):
            only = arg.partition("=")[2] or (bench_args.pop(0) if bench_args else "")
        elif arg.startswith(("--timeline-", "--webhook-", "--voice-", "--pos-", "--reports-")):
            prefix = arg[: arg.index("-", 2) + 1]
            target = {
                "--timeline-": timeline_args,
                "--webhook-": webhook_args,
                "--voice-": voice_args,
                "--pos-": pos_args,
                "--reports-": reports_args,
            }[prefix]
            target.append("--" + arg.removeprefix(prefix))
            if "=" not in arg and bench_args and not bench_args[0].startswith("-"):
                target.append(bench_args.pop(0))  # its value
        elif arg != "--":
            ingest_args.append(arg)
    if only not in (None, "ingest", "timeline", "webhook", "voice", "pos", "reports"):
        sys.exit(f"bench: --only takes ingest, timeline, webhook, voice, pos or reports, not {only!r}")
    for on_ingest_db in (webhook_args, voice_args, pos_args, reports_args):
        if not any(arg == "--db" or arg.startswith("--db=") for arg in on_ingest_db):
            for i, arg in enumerate(ingest_args):
                if arg.startswith("--db="):
                    on_ingest_db.append(arg)
                elif arg == "--db" and i + 1 < len(ingest_args):
                    on_ingest_db += [arg, ingest_args[i + 1]]
    ensure_interpreter()
    ensure_odoo()
    ensure_python_deps()
    ensure_postgres()
    conf = write_config()
    benches = [
        ("ingest", "bench_ingest.py", ingest_args),
        ("timeline", "bench_timeline.py", timeline_args),
        ("webhook", "bench_webhook.py", webhook_args),
        ("voice", "bench_voice.py", voice_args),
        ("pos", "bench_pos.py", pos_args),
        ("reports", "bench_reports.py", reports_args),
    ]
    codes = [
        subprocess.run(
            [sys.executable, str(ROOT / "tests" / "bench" / script), "--config", str(conf), *script_args]
        ).returncode
        for name, script, script_args in benches
        if only in (None, name)
    ]
    sys.exit(next((code for code in codes if code), 0))  # each runs; the first failure is the exit code


def cmd_stop(_args):
    if (PGDATA / "PG_VERSION").exists():
        run(_as_pg_owner([_pg_bin("pg_ctl"), "-D", PGDATA, "-m", "fast", "stop"]), check=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="serve Odoo on :8069 with every addon and its demo data")
    p.add_argument("--rebuild", action="store_true", help="drop and recreate the database")
    p.add_argument(
        "--listen",
        default=os.environ.get("OMNI_HTTP_INTERFACE", "127.0.0.1"),
        metavar="ADDRESS",
        help="interface to serve on (default 127.0.0.1; 0.0.0.0 serves every interface)",
    )
    p.add_argument("--no-ari", action="store_true", help="do not start the Asterisk ARI listener beside Odoo")
    p.add_argument(
        "--demo-pbx",
        action="store_true",
        help="also run a simulated Asterisk on 127.0.0.1:8088 whose demo customers call (screen pops)",
    )
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("test", help="run every test through pytest-odoo, tours included")
    p.add_argument("--rebuild", action="store_true", help="drop and recreate the test database")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="paths or options for pytest")
    p.set_defaults(func=cmd_test)
    p = sub.add_parser("bench", help="build the 1M-partner database and print the figures")
    p.add_argument("bench_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser("stop", help="stop the project-local PostgreSQL")
    p.set_defaults(func=cmd_stop)
    # Options after `test` or `bench` that are not ours go to pytest or the benchmark.
    args, extra = parser.parse_known_args()
    if extra and args.command not in ("test", "bench"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "test":
        args.pytest_args = extra + args.pytest_args
    elif args.command == "bench":
        args.bench_args = extra + args.bench_args
    started = time.time()
    args.func(args)
    say(f"done in {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
