"""What `make install` leaves behind, through `cmake --install` of the build
the tests run (never `make install`, which would build again): the files
under the prefix, binaries that run from there, an example config that
passes `--check`, and a systemd unit that names them and that
`systemd-analyze verify` accepts."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import SLOW, WSEDGE

# The unit's directives that are a promise to the operator, beyond ExecStart.
UNIT_DIRECTIVES = {
    "Unit": {
        "After": "network-online.target",
        "Wants": "network-online.target",
    },
    "Service": {
        "Type": "notify",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "Restart": "on-failure",
        "KillSignal": "SIGTERM",
        "TimeoutStopSec": "30",
        "LimitNOFILE": "1048576",
        "DynamicUser": "yes",
        "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "LogsDirectory": "wsedge",
    },
    "Install": {
        "WantedBy": "multi-user.target",
    },
}


def build_dir():
    """The CMake build that made WSEDGE_BIN: the nearest folder above it with a cache."""
    d = os.path.dirname(os.path.abspath(WSEDGE))
    while d != os.path.dirname(d):
        if os.path.exists(os.path.join(d, "CMakeCache.txt")):
            return d
        d = os.path.dirname(d)
    raise unittest.SkipTest(f"no CMakeCache.txt above {WSEDGE}: not a CMake build")


def cmake_install(prefix, destdir=None):
    env = dict(os.environ)
    env.pop("DESTDIR", None)
    if destdir:
        env["DESTDIR"] = destdir
    return subprocess.run(["cmake", "--install", build_dir(), "--prefix", prefix], env=env,
                          capture_output=True, text=True, timeout=120)


def read_unit(path):
    """{section: {key: value}} of a unit file (no key here is given twice)."""
    unit, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = unit.setdefault(line.strip("[]"), {})
                continue
            key, value = line.split("=", 1)
            section[key.strip()] = value.strip()
    return unit


class Install(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="wsedge-it-install-")
        cls.prefix = os.path.join(cls._tmp.name, "usr")
        out = cmake_install(cls.prefix)
        if out.returncode != 0:
            cls._tmp.cleanup()
            raise AssertionError(f"cmake --install failed:\n{out.stdout}{out.stderr}")
        cls.unit = os.path.join(cls.prefix, "lib/systemd/system/wsedge.service")
        cls.config = os.path.join(cls.prefix, "etc/wsedge/wsedge.yaml")

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()

    def test_files_land_under_the_prefix(self):
        for name in ("bin/wsedge", "bin/wsedge-bench"):
            path = os.path.join(self.prefix, name)
            self.assertTrue(os.access(path, os.X_OK), f"{path} is not an executable")
        for name in ("etc/wsedge/wsedge.yaml", "lib/systemd/system/wsedge.service",
                     "share/doc/wsedge/README.md"):
            self.assertTrue(os.path.isfile(os.path.join(self.prefix, name)), name)

    def test_installed_binaries_run(self):
        # From the prefix, away from the build tree: the runtime path must hold.
        for name in ("wsedge", "wsedge-bench"):
            out = subprocess.run([os.path.join(self.prefix, "bin", name), "--version"],
                                 capture_output=True, text=True, timeout=10 * SLOW, cwd="/")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertRegex(out.stdout, rf"^{name} \d+\.\d+\.\d+\n$")

    def test_installed_config_passes_check(self):
        out = subprocess.run([os.path.join(self.prefix, "bin/wsedge"), "-c", self.config, "--check"],
                             capture_output=True, text=True, timeout=30 * SLOW, cwd="/")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith(f"configuration ok: {self.config}"), out.stdout)
        self.assertNotIn("warning", out.stderr)

    def test_unit_starts_the_installed_binary_on_the_installed_config(self):
        unit = read_unit(self.unit)
        self.assertEqual(unit["Service"]["ExecStart"],
                         f"{self.prefix}/bin/wsedge -c {self.prefix}/etc/wsedge/wsedge.yaml")
        self.assertEqual(unit["Unit"]["Documentation"], f"file://{self.prefix}/share/doc/wsedge/README.md")
        self.assertTrue(unit["Unit"]["Description"])
        for section, directives in UNIT_DIRECTIVES.items():
            for key, value in directives.items():
                self.assertEqual(unit[section].get(key), value, f"[{section}] {key}")
        with open(self.unit) as f:
            self.assertNotIn("@", f.read(), "a placeholder was left unfilled")

    def test_systemd_analyze_verify_accepts_the_unit(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed (Debian package systemd)")
        # --man=no: the check of Documentation= would look for man pages only.
        out = subprocess.run([analyze, "verify", "--man=no", self.unit], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # It also reports on other units it loads; anything about ours is a defect.
        ours = [line for line in (out.stdout + out.stderr).splitlines() if "wsedge" in line]
        self.assertEqual(ours, [])

    def test_a_package_for_usr_is_staged_in_destdir_with_its_config_in_etc(self):
        stage = os.path.join(self._tmp.name, "stage")
        out = cmake_install("/usr", destdir=stage)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertTrue(os.access(os.path.join(stage, "usr/bin/wsedge"), os.X_OK))
        self.assertTrue(os.path.isfile(os.path.join(stage, "etc/wsedge/wsedge.yaml")))
        unit = read_unit(os.path.join(stage, "usr/lib/systemd/system/wsedge.service"))
        self.assertEqual(unit["Service"]["ExecStart"], "/usr/bin/wsedge -c /etc/wsedge/wsedge.yaml")
        written = re.findall(r"^-- (?:Installing|Up-to-date): (.*)$", out.stdout, re.M)
        self.assertGreaterEqual(len(written), 5, out.stdout)
        self.assertEqual([p for p in written if not p.startswith(stage + "/")], [], "written outside DESTDIR")

    def test_reinstall_keeps_the_operators_config(self):
        prefix = os.path.join(self._tmp.name, "again")
        self.assertEqual(cmake_install(prefix).returncode, 0)
        config = os.path.join(prefix, "etc/wsedge/wsedge.yaml")
        with open(config, "a") as f:
            f.write("# edited by the operator\n")
        out = cmake_install(prefix)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn(f"Keeping: {config}", out.stdout)
        with open(config) as f:
            self.assertTrue(f.read().endswith("# edited by the operator\n"))


if __name__ == "__main__":
    unittest.main()
