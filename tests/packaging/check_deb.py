#!/usr/bin/env python3
"""Builds the Debian package with cpack, checks what is in it, installs it, starts the installed
daemon the way its unit does (Type=notify) against the simulator, stops it, and purges the package.

Usage: check_deb.py BUILD_DIR   (a build configured with -DCMAKE_INSTALL_PREFIX=/usr, as ./run does)
Exit: 0 ok, 1 a check failed, 77 something could not be checked here and nothing failed (ctest shows
Skipped); under CI=true whatever cannot be checked is a failure instead (exit 1).

What may be skipped: everything, when dpkg-deb or cpack is missing; installing, when not root or when
c4c-alm-collector is already installed on this machine (a real installation must not be touched by a
test): the package is then unpacked into a temporary directory and the unpacked binary is started, so
everything but dpkg's own steps is still checked; `systemd-analyze verify` of the installed unit and
`man -w`, when those tools are missing.
"""

import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import Simulator, config_text, free_port, http, wait_until  # noqa: E402

PACKAGE = "c4c-alm-collector"
EXPECTED_FILES = [
    "./usr/bin/c4c-alm-collector",
    "./usr/lib/systemd/system/c4c-alm-collector.service",
    "./etc/c4c-alm-collector/c4c-alm-collector.toml",
    "./usr/share/man/man8/c4c-alm-collector.8.gz",
    "./usr/share/bash-completion/completions/c4c-alm-collector",
    "./usr/share/c4c-alm-collector/alerts.yml",
]

failures = []
skipped = []


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message)
    if not condition:
        failures.append(message)


def skip(reason):
    """A check that cannot run here: a failure under CI=true (CI must check everything), otherwise
    reported, and the exit status is 77 when nothing failed."""
    if os.environ.get("CI") == "true":
        check(False, f"{reason}, and CI=true must not skip")
    else:
        print(f"SKIP {reason}")
        skipped.append(reason)


def outcome():
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    if skipped:
        print(f"SKIPPED: {len(skipped)} check(s) could not run here (exit 77): {'; '.join(skipped)}")
        return 77
    print("package ok")
    return 0


def run(*args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def build_package(build_dir, out_dir):
    cache = open(os.path.join(build_dir, "CMakeCache.txt")).read()
    if "CMAKE_INSTALL_PREFIX:PATH=/usr\n" not in cache:
        print(f"FAIL {build_dir} is not configured with -DCMAKE_INSTALL_PREFIX=/usr (the package would put the "
              "config under /usr/etc)")
        sys.exit(1)
    started = time.monotonic()
    done = run("cpack", "-G", "DEB", "-B", out_dir, cwd=build_dir)
    if done.returncode != 0:
        print(done.stdout, done.stderr)
        print("FAIL cpack -G DEB")
        sys.exit(1)
    debs = [f for f in os.listdir(out_dir) if f.endswith(".deb")]
    check(len(debs) == 1, f"cpack built one .deb ({debs}) in {time.monotonic() - started:.1f} s")
    return os.path.join(out_dir, debs[0])


def inspect(deb):
    contents = run("dpkg-deb", "--contents", deb).stdout
    paths = [line.split()[5] for line in contents.splitlines() if len(line.split()) >= 6]
    for expected in EXPECTED_FILES:
        check(expected in paths, f"package contains {expected}")
    fields = {}
    for name in ("Package", "Version", "Architecture", "Depends", "Section"):
        fields[name] = run("dpkg-deb", "--field", deb, name).stdout.strip()
    check(fields["Package"] == PACKAGE, f"Package: {fields['Package']}")
    check(fields["Depends"] and "libc6" in fields["Depends"] and "libssl3" in fields["Depends"],
          f"Depends computed from the binary: {fields['Depends']}")
    control = tempfile.mkdtemp(prefix="c4c-deb-control-")
    try:
        run("dpkg-deb", "--control", deb, control)
        conffiles = open(os.path.join(control, "conffiles")).read().split()
        check(conffiles == ["/etc/c4c-alm-collector/c4c-alm-collector.toml"], f"conffiles: {conffiles}")
        for script in ("postinst", "prerm", "postrm"):
            mode = os.stat(os.path.join(control, script)).st_mode
            check(mode & stat.S_IXUSR, f"{script} is executable")
    finally:
        shutil.rmtree(control)


def start_like_systemd(binary, workdir):
    """Runs the daemon as its unit does (Type=notify): READY=1 when up, STOPPING=1 and exit 0 on SIGTERM."""
    sim = Simulator("--objects", "5")
    notify_path = os.path.join(workdir, "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(30)
    port = free_port()
    config = os.path.join(workdir, "c4c-alm-collector.toml")
    with open(config, "w") as f:
        f.write(config_text(sim.url, os.path.join(workdir, "state"), f"127.0.0.1:{port}"))
    try:
        check(run(binary, "--config", config, "--check").stdout.strip() == "config ok", "installed binary: --check")
        env = dict(os.environ, NOTIFY_SOCKET=notify_path)
        with open(os.path.join(workdir, "daemon.log"), "w") as log:
            process = subprocess.Popen([binary, "--config", config], env=env, stdout=subprocess.DEVNULL, stderr=log)
            try:
                messages = []
                while "READY=1" not in messages:
                    messages += notify.recv(4096).decode().split("\n")
                check(True, "installed binary: READY=1")
                wait_until(lambda: sim.sink("business_process_monitoring")["unique"] == 20, 30,
                           message="the installed daemon delivering")
                check(http("GET", f"http://127.0.0.1:{port}/readyz")[0] == 200, "installed binary: /readyz 200")
                process.send_signal(signal.SIGTERM)
                check(process.wait(30) == 0, "installed binary: SIGTERM, exit 0")
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    finally:
        notify.close()
        sim.stop()


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    for tool in ("dpkg-deb", "cpack"):
        if not shutil.which(tool):
            skip(f"{tool} not found (apt-get install dpkg-dev cmake): nothing was checked")
            return outcome()
    build_dir = os.path.abspath(sys.argv[1])
    workdir = tempfile.mkdtemp(prefix="c4c-deb-")
    try:
        deb = build_package(build_dir, workdir)
        inspect(deb)
        already = run("dpkg-query", "-W", "-f=${Status}", PACKAGE).stdout
        if os.geteuid() == 0 and "install ok installed" not in already:
            done = run("dpkg", "-i", deb)
            check(done.returncode == 0, f"dpkg -i {os.path.basename(deb)}: {done.stderr.strip()[:300]}")
            try:
                for path in EXPECTED_FILES:
                    check(os.path.exists(path[1:]), f"installed {path[1:]}")
                credentials = os.stat("/etc/c4c-alm-collector/credentials")
                check(stat.S_IMODE(credentials.st_mode) == 0o700, "postinst made /etc/c4c-alm-collector/credentials 0700")
                version = run("/usr/bin/c4c-alm-collector", "--version").stdout.strip()
                check(version.startswith("c4c-alm-collector "), f"/usr/bin/c4c-alm-collector --version: {version}")
                if shutil.which("systemd-analyze"):
                    verify = run("systemd-analyze", "verify", "/usr/lib/systemd/system/c4c-alm-collector.service")
                    check(verify.returncode == 0, f"systemd-analyze verify of the installed unit {verify.stderr.strip()}")
                else:
                    skip("systemd-analyze not found (apt-get install systemd): the installed unit was not verified")
                if shutil.which("man"):
                    check(run("man", "-w", "8", PACKAGE).returncode == 0, "man 8 c4c-alm-collector is found")
                else:
                    skip("man not found (apt-get install man-db): the installed man page was not looked up")
                start_like_systemd("/usr/bin/c4c-alm-collector", workdir)
            finally:
                done = run("dpkg", "--purge", PACKAGE)
                check(done.returncode == 0, "dpkg --purge")
                check(not os.path.exists("/usr/bin/c4c-alm-collector"), "purge removed the binary")
                check(not os.path.exists("/etc/c4c-alm-collector"), "purge removed /etc/c4c-alm-collector")
        else:
            reason = "not root" if os.geteuid() != 0 else "c4c-alm-collector is installed on this machine"
            skip(f"{reason}: dpkg -i, postinst, the installed files and dpkg --purge were not checked "
                 "(the package is unpacked and its binary started instead)")
            root = os.path.join(workdir, "root")
            run("dpkg-deb", "-x", deb, root)
            start_like_systemd(os.path.join(root, "usr/bin/c4c-alm-collector"), workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return outcome()


if __name__ == "__main__":
    sys.exit(main())
