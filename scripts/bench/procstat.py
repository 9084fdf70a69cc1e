#!/usr/bin/env python3
"""CPU and database counters around one benchmark scenario, from /proc and SHOW GLOBAL STATUS.

  procstat.py snap GATEWAY_PID [MYSQL_ARGS...] > before.json
  procstat.py diff before.json after.json [LOADTEST_CORES] > cpu.json
  procstat.py child-cpu OUT COMMAND...   (runs COMMAND; writes its CPU cores used to OUT)

A snapshot holds the CPU ticks of mariadbd/mysqld, beam.smp (RabbitMQ), mysqlslap, Kannel
(bearerbox, smsbox), the gateway
process and the whole machine (/proc/stat), plus a few MariaDB status counters (commits, redo log
fsyncs, row lock waits). The diff turns them into cores used (1.0 = one core busy for the whole
interval), per second rates and the load average, so each figure can say what was busy.
"""
import json
import os
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
DB_COUNTERS = [
    "Com_commit",
    "Com_insert",
    "Com_update",
    "Com_select",
    "Innodb_os_log_fsyncs",
    "Innodb_data_fsyncs",
    "Innodb_row_lock_waits",
    "Innodb_deadlocks",
    "Innodb_row_lock_time",
    "Innodb_buffer_pool_wait_free",
    "Innodb_log_waits",
    "Questions",
]


def proc_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # fields[11], [12] are utime and stime (fields 14 and 15 of stat(5)).
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def pids_named(names):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() in names:
                    out.append(int(entry))
        except OSError:
            pass
    return out


def group_ticks(names):
    return sum(t for t in (proc_ticks(p) for p in pids_named(names)) if t is not None)


def machine():
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + (cpu[7] if len(cpu) > 7 else 0)
    return {"busy": busy, "idle": cpu[3], "iowait": cpu[4]}


def db_status(mysql_args):
    if not mysql_args:
        return {}
    names = ",".join(f"'{n}'" for n in DB_COUNTERS)
    try:
        out = subprocess.run(
            ["mysql", *mysql_args, "-N", "-B", "-e",
             f"show global status where Variable_name in ({names})"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError):
        return {}
    status = {}
    for line in out.splitlines():
        k, _, v = line.partition("\t")
        try:
            status[k] = int(v)
        except ValueError:
            pass
    return status


def snap(gateway_pid, mysql_args):
    return {
        "t": time.time(),
        "mariadbd": group_ticks({"mariadbd", "mysqld"}),
        "rabbitmq": group_ticks({"beam.smp"}),
        "mysqlslap": group_ticks({"mysqlslap"}),
        "kannel": group_ticks({"bearerbox", "smsbox"}),
        "gateway": proc_ticks(gateway_pid) if gateway_pid else None,
        "machine": machine(),
        "db": db_status(mysql_args),
        "loadavg": os.getloadavg()[0],
    }


def diff(a, b, loadtest_cores):
    wall = max(b["t"] - a["t"], 1e-9)
    cores = lambda x, y: None if x is None or y is None else round((y - x) / HZ / wall, 2)
    out = {
        "wall_s": round(wall, 1),
        "cores": {
            "mariadbd": cores(a["mariadbd"], b["mariadbd"]),
            "rabbitmq": cores(a["rabbitmq"], b["rabbitmq"]),
            "mysqlslap": cores(a.get("mysqlslap"), b.get("mysqlslap")),
            "kannel": cores(a.get("kannel"), b.get("kannel")),
            "gateway": cores(a["gateway"], b["gateway"]),
            "loadtest": loadtest_cores,
            "machine_busy": cores(a["machine"]["busy"], b["machine"]["busy"]),
            "iowait": cores(a["machine"]["iowait"], b["machine"]["iowait"]),
        },
        "db_per_s": {
            k: round((b["db"][k] - a["db"].get(k, 0)) / wall, 1)
            for k in b["db"] if k in a["db"]
        },
        # Server-wide counts over the scenario (other sessions' included, like the rates).
        "db_delta": {
            k: b["db"][k] - a["db"].get(k, 0)
            for k in ("Innodb_deadlocks",) if k in b["db"] and k in a["db"]
        },
        "loadavg_end": round(b["loadavg"], 2),
    }
    known = sum(v for k, v in out["cores"].items()
                if k in ("mariadbd", "rabbitmq", "mysqlslap", "kannel", "gateway", "loadtest") and v is not None)
    if out["cores"]["machine_busy"] is not None:
        out["cores"]["others"] = round(max(out["cores"]["machine_busy"] - known, 0.0), 2)
    return out


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "snap":
        pid = int(sys.argv[2]) if sys.argv[2] not in ("", "0", "-") else None
        json.dump(snap(pid, sys.argv[3:]), sys.stdout)
    elif len(sys.argv) >= 4 and sys.argv[1] == "child-cpu":
        import resource
        started = time.time()
        rc = subprocess.run(sys.argv[3:]).returncode
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(sys.argv[2], "w") as f:
            f.write(f"{(r.ru_utime + r.ru_stime) / max(time.time() - started, 1e-9):.3f}")
        sys.exit(rc)
    elif len(sys.argv) >= 4 and sys.argv[1] == "diff":
        with open(sys.argv[2]) as fa, open(sys.argv[3]) as fb:
            a, b = json.load(fa), json.load(fb)
        lt = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else None
        json.dump(diff(a, b, lt), sys.stdout)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
