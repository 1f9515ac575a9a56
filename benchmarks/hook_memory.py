"""Peak memory of iterating 200,000 item ledger entries through the hook against 20,000.

Both reads run side by side in one session against one emulator (200,000 entries in the default
company), each in a fresh interpreter so that one peak cannot hide the other. The reads follow
nextLinks at the server's default page size (20,000) and at 5,000. Memory should be flat in the
number of rows: the ratio of peaks should stay near 1, whatever the row count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from airflow_provider_bc.testing.emulator import EmulatorHandle

ENTRIES = 200_000
SMALL = 20_000

PROBE = textwrap.dedent(
    """
    import json, sys, tracemalloc
    from airflow_provider_bc.client.client import BusinessCentralClient
    from airflow_provider_bc.client.settings import ClientSettings

    conn, rows, page_size = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    extra = conn["extra"]
    client = BusinessCentralClient(ClientSettings(
        client_id=conn["login"], client_secret=conn["password"], tenant_id=extra["tenant_id"],
        company_id=extra["company_id"], api_host=conn["host"], authority=extra["authority"],
        verify=extra["verify"]))
    client.list_companies()  # token, TLS and imports: not part of what is measured
    tracemalloc.start()
    count = 0
    for entry in client.iter_entities("itemLedgerEntries", filter=f"entryNumber le {rows}",
                                      page_size=None if page_size == "default" else int(page_size)):
        count += 1
    peak = tracemalloc.get_traced_memory()[1]
    print(json.dumps({"rows": count, "peak_bytes": peak,
                      "max_rss_kib": int(next(line.split()[1] for line in open("/proc/self/status")
                                              if line.startswith("VmHWM:")))}))
    """
)


def measure(conn: str, rows: int, page_size: str) -> dict[str, int]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, conn, str(rows), page_size], capture_output=True, text=True, check=False, env=env
    )
    if out.returncode:
        raise SystemExit(f"reading {rows} rows failed:\n{out.stderr[-3000:]}")
    result = dict(json.loads(out.stdout.strip().splitlines()[-1]))
    assert result["rows"] == rows, result
    return result


def main() -> None:
    with EmulatorHandle.start(entries=ENTRIES) as emulator:
        conn = emulator.airflow_connection_env()
        print(f"Peak memory iterating item ledger entries (all fields), {ENTRIES:,} vs {SMALL:,} rows:")
        figures = []
        for page_size in ("default", "5000"):
            small, large = measure(conn, SMALL, page_size), measure(conn, ENTRIES, page_size)
            figures.append(f"heap_ratio_{page_size}={large['peak_bytes'] / small['peak_bytes']:.2f}")
            figures.append(f"rss_ratio_{page_size}={large['max_rss_kib'] / small['max_rss_kib']:.2f}")
            print(
                f"  page size {page_size:>7}: Python heap peak {small['peak_bytes'] / 2**20:6.1f} MiB vs "
                f"{large['peak_bytes'] / 2**20:6.1f} MiB, ratio {large['peak_bytes'] / small['peak_bytes']:.2f}; "
                f"max RSS {small['max_rss_kib'] / 1024:6.1f} MiB vs {large['max_rss_kib'] / 1024:6.1f} MiB, "
                f"ratio {large['max_rss_kib'] / small['max_rss_kib']:.2f}"
            )
    print("RESULT " + " ".join(figures))


if __name__ == "__main__":
    main()
