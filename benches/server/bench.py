#!/usr/bin/env python3
"""Drives csta-server and Kamailio with sipp on this machine and prints what each
sustains: REGISTER/s (with and without digest), calls/s through the proxy, CPU
microseconds per operation, and memory per 10,000 registrations.

Each server runs pinned to CPU 0 (one core); sipp runs on the other CPUs. A rate
passes when every sipp call of a run succeeds and the run ends within 10 % of its
planned time; rates rise by a quarter until one fails. Started with
scripts/bench-server.sh, which builds and installs what this needs.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# The sipp scenarios, shared with the interop tests.
SCENARIOS = os.path.join(ROOT, "adapters/server/tests/sipp")
HOST = "127.0.0.1"
PASSWORD = "secret"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def children(pid):
    """pid and every descendant."""
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for c in f.read().split():
                    out.extend(children(int(c)))
    except OSError:
        pass
    return out


def cpu_seconds(pid):
    """User + system CPU time of pid and its descendants."""
    total = 0
    for p in children(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / CLK_TCK


def pss_kib(pid):
    """Proportional set size of pid and its descendants (shared pages counted once)."""
    total = 0
    for p in children(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Target:
    """A server under test: started pinned to CPU 0, stopped by its process id."""

    def __init__(self, name, argv, port, work):
        self.name, self.argv, self.port, self.work = name, argv, port, work
        self.proc = None

    def start(self):
        log = open(os.path.join(self.work, f"{self.name}.log"), "w")
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0"] + self.argv, stdout=log, stderr=subprocess.STDOUT
        )
        time.sleep(1.5)
        if self.proc.poll() is not None:
            sys.exit(f"{self.name} did not start; see {log.name}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def sipp(args, work, timeout):
    """Runs sipp on CPUs other than 0; returns its exit status (0: no call failed)."""
    cpus = os.cpu_count() or 2
    pin = ["taskset", "-c", f"1-{cpus - 1}"] if cpus > 1 else []
    p = subprocess.Popen(
        pin + ["sipp", "-i", HOST, "-nostdin", "-max_socket", "60000"] + args,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return -1


def users_csv(work, users, auth):
    path = os.path.join(work, f"users-{auth}.csv")
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(users):
            cred = f"[authentication username=u{i} password={PASSWORD}]" if auth else ""
            f.write(f"u{i};{cred}\n")
    return path


def run_rate(target, scenario_args, rate, seconds, work):
    """One run at `rate` calls/s; returns (passed, calls, cpu seconds)."""
    calls = int(rate * seconds)
    cpu0 = cpu_seconds(target.proc.pid)
    t0 = time.monotonic()
    status = sipp(
        scenario_args
        + ["-r", str(rate), "-m", str(calls), "-l", str(max(rate * 4, 1000)),
           f"{HOST}:{target.port}"],
        work,
        seconds * 3 + 30,
    )
    took = time.monotonic() - t0
    cpu = cpu_seconds(target.proc.pid) - cpu0
    return status == 0 and took <= seconds * 1.1 + 0.3, calls, cpu, took


def max_rate(target, scenario_args, start, seconds, work, label):
    """The highest rate that passes, with the CPU time per operation at that rate."""
    rate, best = start, None
    while True:
        ok, calls, cpu, took = run_rate(target, scenario_args, rate, seconds, work)
        print(f"  {target.name} {label}: {rate}/s for {calls} calls: "
              f"{'ok' if ok else 'FAILED'} in {took:.1f} s, {cpu * 1e6 / calls:.0f} us CPU each",
              flush=True)
        if not ok:
            return best
        best = (rate, cpu * 1e6 / calls)
        rate = int(rate * 1.25)


def server_config(work, users, authenticate, port):
    data = os.path.join(work, "data")
    shutil.rmtree(data, ignore_errors=True)
    path = os.path.join(work, f"csta-server-{int(authenticate)}.toml")
    with open(path, "w") as f:
        f.write(f'data_dir = "{data}"\n[sip]\ndomain = "{HOST}"\n')
        f.write(f'udp = ["{HOST}:{port}"]\ntcp = []\n')
        f.write(f"authenticate = {str(authenticate).lower()}\n")
        f.write('digest_algorithms = ["MD5"]\nauthenticate_calls = false\n')
        f.write("[clients]\ntcp = false\nwebsocket = false\n[http]\nlisten = false\n")
        for i in range(users):
            f.write(f'[[users]]\nname = "u{i}"\npassword = "{PASSWORD}"\n')
        f.write('[[users]]\nname = "callee"\npassword = "secret"\n')
    return path


def targets(work, users, authenticate, server_bin, only):
    kam = ["kamailio", "-DD", "-E", "-f", os.path.join(HERE, "kamailio.cfg"),
           "-l", f"udp:{HOST}:25060", "-m", "1024", "-M", "64"]
    if authenticate:
        kam += ["-A", "WITH_AUTH"]
    ours = [server_bin, "--config", server_config(work, users, authenticate, 15060),
            "--log", "warn"]
    return [t for t in (Target("kamailio", kam, 25060, work),
                        Target("csta-server", ours, 15060, work))
            if only in (None, t.name)]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", default=os.path.join(ROOT, "target/release/csta-server"))
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--only", choices=["csta-server", "kamailio"], help="measure one server")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="csta-bench-")
    results = {}
    for authenticate in (True, False):
        label = "REGISTER/s digest" if authenticate else "REGISTER/s no auth"
        csv = users_csv(work, args.users, authenticate)
        print(f"{label}:", flush=True)
        for t in targets(work, args.users, authenticate, args.server, args.only):
            t.start()
            try:
                # Every user registered once first, so that runs refresh bindings.
                base = pss_kib(t.proc.pid)
                sipp(["-sf", os.path.join(SCENARIOS, "register.xml"), "-inf", csv, "-r", "2000",
                      "-auth_uri", HOST,
                      "-m", str(args.users), "-p", "16000", f"{HOST}:{t.port}"], work, 120)
                if authenticate:
                    results[(t.name, "kib/10k")] = (pss_kib(t.proc.pid) - base) * 10000 / args.users
                results[(t.name, label)] = max_rate(
                    t, ["-sf", os.path.join(SCENARIOS, "register.xml"), "-inf", csv, "-p", "16000",
                       "-auth_uri", HOST],
                    4000, args.seconds, work, label)
            finally:
                t.stop()
    print("calls/s:", flush=True)
    callee = os.path.join(work, "callee.csv")
    with open(callee, "w") as f:
        f.write(f"SEQUENTIAL\ncallee;[authentication username=callee password={PASSWORD}]\n")
    for t in targets(work, args.users, False, args.server, args.only):
        t.start()
        uas = None
        try:
            sipp(["-sf", os.path.join(SCENARIOS, "register.xml"), "-inf", callee, "-m", "1",
                  "-auth_uri", HOST,
                  "-p", "16100", f"{HOST}:{t.port}"], work, 30)
            uas = subprocess.Popen(
                ["sipp", "-i", HOST, "-nostdin", "-sf", os.path.join(SCENARIOS, "uas.xml"),
                 "-p", "16100"], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            results[(t.name, "calls/s")] = max_rate(
                t, ["-sf", os.path.join(SCENARIOS, "uac.xml"), "-s", "callee", "-p", "16200"],
                500, args.seconds, work, "calls/s")
        finally:
            if uas:
                uas.terminate()
                uas.wait()
            t.stop()

    print("\nresult (one core each, same machine, same run)")
    print(f"{'':22}{'csta-server':>22}{'kamailio':>22}{'ratio':>8}")
    for what in ("REGISTER/s digest", "REGISTER/s no auth", "calls/s"):
        ours, theirs = results.get(("csta-server", what)), results.get(("kamailio", what))
        fmt = lambda r: "failed" if r is None else f"{r[0]}/s, {r[1]:.0f} us"
        ratio = f"{ours[0] / theirs[0]:.2f}x" if ours and theirs else "-"
        print(f"{what:22}{fmt(ours):>22}{fmt(theirs):>22}{ratio:>8}")
    for name in ("csta-server", "kamailio"):
        kib = results.get((name, "kib/10k"))
        if kib is not None:
            print(f"memory per 10,000 registrations, {name}: {kib / 1024:.1f} MiB")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
