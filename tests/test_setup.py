"""What `make run` and `make test` set up: Odoo in the project's own Python, an OCA addon wheel
beside it, and a PostgreSQL cluster that is durable except for the test database's commits.

Each check runs in a fresh interpreter, as `make run` would start Odoo."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

from odoo.tools import config

ROOT = Path(__file__).resolve().parent.parent


def python(code):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_odoo_and_an_oca_addon_wheel_both_import():
    # The wheel made site-packages/odoo/addons/: a plain directory named odoo that must not
    # shadow the Odoo installed in place (it would become an empty namespace package).
    site_odoo = Path(sysconfig.get_paths()["purelib"]) / "odoo"
    assert (site_odoo / "addons" / "queue_job" / "__manifest__.py").exists()
    assert not (site_odoo / "__init__.py").exists()
    out = python(
        "import odoo, odoo.release, odoo.addons.queue_job as qj\n"
        "from odoo.modules.module import get_manifest\n"
        "print(odoo.__file__); print(odoo.release.series); print(qj.__file__); print(get_manifest('queue_job')['name'])"
    )
    odoo_file, series, queue_job_file, name = out.splitlines()
    assert odoo_file != "None" and not odoo_file.startswith(str(site_odoo)), odoo_file
    assert series == "18.0"
    assert queue_job_file.startswith(str(site_odoo / "addons" / "queue_job"))
    assert name == "Job Queue"


def test_the_websocket_servers_gevent_process_starts():
    # With --workers, Odoo serves /websocket from a separate `odoo gevent` process; its first step,
    # gevent.monkey.patch_all(), loads gevent's plugins through pkg_resources, which must find
    # gevent's requirements zope.interface and zope.event under their normalised dist-info names
    # (zope_interface-*.dist-info): setuptools before 75.8.2 cannot, and that process then dies at
    # every start while the HTTP workers keep serving.
    out = python(
        "import sys; sys.argv[1:] = ['gevent']  # as Odoo's prefork server starts it\n"
        "import odoo, gevent.monkey\n"
        "print(odoo.evented, gevent.monkey.is_module_patched('socket'))"
    )
    assert out == "True True"


def test_odoo_lives_in_the_projects_virtualenv():
    # The Python running make keeps its own packages: Odoo's pins went into the virtualenv.
    if os.environ.get("OMNI_PYTHON"):
        return  # PYTHON=... named this interpreter on purpose
    venv = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "omnichannel-odoo" / "venv"
    assert Path(sys.prefix) == venv
    assert sys.prefix != sys.base_prefix
    assert str(ROOT) not in sys.prefix, "outside the checkout"


def test_cluster_is_durable_and_only_test_commits_are_relaxed():
    import odoo

    with odoo.sql_db.db_connect(config["db_name"] or "postgres").cursor() as cr:
        cr.execute("SHOW fsync")
        assert cr.fetchone()[0] == "on"
        cr.execute("SHOW full_page_writes")
        assert cr.fetchone()[0] == "on"
        cr.execute("SELECT source FROM pg_settings WHERE name = 'synchronous_commit'")
        assert cr.fetchone()[0] == "client", "not the server's setting: make run and make bench stay durable"
        cr.execute("SHOW synchronous_commit")
        assert cr.fetchone()[0] == "off", "make test's connections trade durability for speed"


def test_as_root_the_cluster_lives_where_postgres_can_reach_it():
    if os.geteuid() != 0:
        return
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import devenv
    finally:
        sys.path.pop(0)
    home = devenv.PG_HOME
    assert not home.is_relative_to(ROOT)
    for parent in [home, *home.parents]:
        assert os.stat(parent).st_mode & 0o001, f"{parent} is not traversable by the postgres user"
    assert (home / "checkout").read_text() == str(ROOT)
