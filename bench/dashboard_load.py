"""Benchmark 9 — many people on one dashboard server (issue 24).

One ``streamlit run app.py`` on 127.0.0.1 (the repository's .streamlit/config.toml), Chromium contexts
(Playwright) as the people, all on the same machine: the browsers' own CPU counts against the server
and the trainings here, which a real team's browsers would not. Bounded: every wait has a limit and
the script ends the server and the browsers itself.

1. a seventh person's page (``/Data``) opened while the server is idle (median of ``--opens``);
2. six sessions press Train together on ``/Train?preset=default&epochs=4&patience=0``: each one's
   time from its click to "Finished", whether it showed its queue position while waiting, the server
   process's CPU meanwhile; the seventh person's page opened during that load; against the same
   training from the CLI (median of ``--cli-runs`` fresh processes) x 6 / the job slots;
3. twelve sessions watching a finished run each (the Results page), settled: the server's CPU
   over ``--watch-seconds``, per watching session;
4. the server's RSS after the first six trainings and after ``--rounds`` rounds of six.

    python bench/dashboard_load.py                 # 2 rounds (12 trainings)
    python bench/dashboard_load.py --rounds 8      # about 50 trainings
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, median, save_results, table
from dashboard import ARGS, CHROMIUM, start_server, stop, tf_loaded
from dashboard_training import cli_run, rss_mb

LINK = "preset=default&epochs=4&patience=0"
SESSIONS = 6


def cpu_seconds(pid: int) -> float:
    """The process's own user + system CPU time (not its children's: the trainings run in workers)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_data_page(browser, url: str, timeout_s: float = 300) -> float:
    """A new person (a fresh context): the address typed until the Data page's heading shows."""
    context = browser.new_context(viewport={"width": 1300, "height": 1100})
    page = context.new_page()
    t0 = time.perf_counter()
    try:
        page.goto(f"{url}/Data", wait_until="commit", timeout=timeout_s * 1000)
        page.get_by_role("heading", name="Data").first.wait_for(timeout=timeout_s * 1000)
        return time.perf_counter() - t0
    except Exception:  # noqa: BLE001 - not opened within the limit: reported as such
        return float("inf")
    finally:
        context.close()


def open_train(browser, url: str):
    page = browser.new_context(viewport={"width": 1300, "height": 1100}).new_page()
    page.goto(f"{url}/Train?{LINK}", wait_until="domcontentloaded", timeout=300_000)
    page.get_by_text("Press Train to start").wait_for(timeout=300_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
    return page


def press(page) -> tuple[float, bool]:
    """Click Train until the page shows the new run (Training or Queued: the previous wave's
    "Finished" is replaced). Returns the click time and whether the run started."""
    t0 = time.perf_counter()
    started = re.compile(r"^(Training|Queued)")
    for _ in range(3):
        page.get_by_role("button", name="Train", exact=True).click()
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            if page.get_by_text(started).count():
                return t0, True
            page.wait_for_timeout(250)
    return t0, False  # the clicks were not taken: the wave reports this session as unfinished


def wave(browser, url: str, pages: list, server_pid: int, seventh: bool, limit_s: float) -> dict:
    """Every page presses Train; until all show "Finished" again (or ``limit_s``), each is looked at
    in turn: its finish time and whether it showed its place in the queue."""
    queue_shown = [False] * len(pages)
    done: list[float | None] = [None] * len(pages)
    cpu0, wall0 = cpu_seconds(server_pid), time.perf_counter()
    pressed = [press(p) for p in pages]
    seventh_s = open_data_page(browser, url) if seventh else None
    finished = re.compile(r"^Finished")
    while None in done and time.perf_counter() - wall0 < limit_s:
        for i, page in enumerate(pages):
            if done[i] is not None:
                continue
            t0, started = pressed[i]
            if not started:
                done[i] = float("inf")
            elif page.get_by_text(finished).count():
                done[i] = time.perf_counter() - t0
            elif page.get_by_text(re.compile(r"in the queue")).count():
                queue_shown[i] = True
        time.sleep(0.5)
    cpu = cpu_seconds(server_pid) - cpu0
    wall = time.perf_counter() - wall0
    return {"finish_s": [d if d is not None else float("inf") for d in done], "queue_shown": queue_shown,
            "seventh_page_s": seventh_s, "server_cpu_share": cpu / wall, "wall_s": wall}


def cli_pair(home: Path) -> float:
    """Two CLI trainings started together (the job slots' parallelism, without a server or browsers):
    the wall time until both have ended."""
    import subprocess

    env = {**os.environ, "PRICECAST_HOME": str(home), "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-m", "pricecast", "train", "--preset", "default", "--data", "sample:AAPL",
           "--epochs", "4", "--patience", "0", "--json"]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(2)]
    for proc in procs:
        proc.wait(timeout=900)
    return time.perf_counter() - t0


def watch_finished(browser, url: str, server_pid: int, sessions: int, seconds: float) -> dict:
    """``sessions`` people each on the Results page of the newest finished run, doing nothing."""
    pages = []
    for _ in range(sessions):
        page = browser.new_context(viewport={"width": 1300, "height": 1100}).new_page()
        page.goto(f"{url}/Results", wait_until="domcontentloaded", timeout=300_000)
        pages.append(page)
    for page in pages:
        page.get_by_role("heading", name="Results").first.wait_for(timeout=300_000)
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
    time.sleep(3)  # the pages' own follow-up work (chart bundle, preloads) done
    cpu0, wall0 = cpu_seconds(server_pid), time.perf_counter()
    time.sleep(seconds)
    share = (cpu_seconds(server_pid) - cpu0) / (time.perf_counter() - wall0)
    for page in pages:
        page.context.close()
    return {"sessions": sessions, "seconds": seconds, "server_cpu_share": share, "per_session": share / sessions}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2, help="waves of six trainings (the first is the timed one)")
    ap.add_argument("--opens", type=int, default=3, help="idle opens of the seventh page")
    ap.add_argument("--cli-runs", type=int, default=2)
    ap.add_argument("--watchers", type=int, default=12)
    ap.add_argument("--watch-seconds", type=float, default=20.0)
    ap.add_argument("--limit", type=float, default=600.0, help="seconds a wave may take before it is given up")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from pricecast.jobs.registry import default_capacity

    home = Path(tempfile.mkdtemp(prefix="bench-dash-load-"))
    slots = default_capacity()
    res: dict = {"sessions": SESSIONS, "link": f"/Train?{LINK}", "job_slots": slots, "rounds": args.rounds,
                 "cli": [], "waves": []}
    print(f"CLI baseline ({args.cli_runs} runs)", flush=True)
    res["cli"] = [cli_run(home, ["--epochs", "4", "--patience", "0"]) for _ in range(args.cli_runs)]
    print("CLI: two at once", flush=True)
    res["cli_pair_s"] = cli_pair(home)
    proc, url, _ = start_server(home)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                open_data_page(browser, url)  # warm-up: the first page visit
                print("idle page opens", flush=True)
                res["idle_page_s"] = [open_data_page(browser, url) for _ in range(args.opens)]
                pages = [open_train(browser, url) for _ in range(SESSIONS)]
                pages[0].wait_for_timeout(8000)  # the spare worker has loaded TensorFlow, as it would have
                for r in range(args.rounds):
                    print(f"wave {r + 1}/{args.rounds}", flush=True)
                    res["waves"].append(wave(browser, url, pages, proc.pid, seventh=r == 0, limit_s=args.limit))
                    res["waves"][-1]["server_rss_mb"] = rss_mb(proc.pid)
                    print(f"  {res['waves'][-1]}", flush=True)
                for page in pages:
                    page.context.close()
                print(f"{args.watchers} sessions watching finished runs", flush=True)
                res["watching"] = watch_finished(browser, url, proc.pid, args.watchers, args.watch_seconds)
            finally:
                browser.close()
        res["server_rss_mb_end"] = rss_mb(proc.pid)
        res["server_tensorflow_loaded"] = tf_loaded(proc.pid)
    finally:
        stop(proc)

    cli = median(r["wall_s"] for r in res["cli"])
    first = res["waves"][0]
    expected = cli * SESSIONS / slots
    pairs = res["cli_pair_s"] * SESSIONS / 2
    last = max(first["finish_s"])
    idle = median(res["idle_page_s"])
    res["summary"] = {
        "cli_one_s": cli, "six_back_to_back_over_slots_s": expected, "last_of_six_s": last,
        "ratio_last_vs_cli": last / expected, "six_as_cli_pairs_s": pairs, "ratio_last_vs_cli_pairs": last / pairs,
        "queue_shown": first["queue_shown"],
        "seventh_idle_s": idle, "seventh_loaded_s": first["seventh_page_s"],
        "ratio_seventh": first["seventh_page_s"] / idle,
        "server_cpu_during_six": first["server_cpu_share"],
        "watching_cpu_share": res["watching"]["server_cpu_share"],
        "watching_cpu_per_session": res["watching"]["per_session"],
        "rss_after_first_six_mb": first["server_rss_mb"], "rss_after_all_mb": res["waves"][-1]["server_rss_mb"],
        "trainings": SESSIONS * args.rounds,
    }
    s = res["summary"]
    rows = [
        {"what": "one training from the CLI (process wall, median)", "value": f"{cli:.1f} s"},
        {"what": f"six back to back / {slots} slots", "value": f"{expected:.1f} s"},
        {"what": "six sessions press Train: the last finishes after",
         "value": f"{last:.1f} s ({s['ratio_last_vs_cli']:.2f}x)"},
        {"what": "two CLI trainings at once, x 3 (the machine's real parallel pace)",
         "value": f"{pairs:.1f} s (the last of six: {s['ratio_last_vs_cli_pairs']:.2f}x)"},
        {"what": "each one's time to Finished", "value": ", ".join(f"{t:.0f}" for t in first["finish_s"])},
        {"what": "showed its place in the queue while waiting", "value": str(first["queue_shown"])},
        {"what": "seventh page (/Data): idle / during the six",
         "value": f"{idle:.1f} s / {first['seventh_page_s']:.1f} s ({s['ratio_seventh']:.2f}x)"},
        {"what": "server CPU during the six (share of one core)", "value": f"{first['server_cpu_share']:.0%}"},
        {"what": f"{args.watchers} sessions watching finished runs: server CPU",
         "value": f"{s['watching_cpu_share']:.1%} of a core ({s['watching_cpu_per_session']:.2%} per session)"},
        {"what": f"server RSS after 6 / after {s['trainings']} trainings",
         "value": f"{s['rss_after_first_six_mb']:.0f} / {s['rss_after_all_mb']:.0f} MB"},
        {"what": "TensorFlow loaded in the server process", "value": str(res["server_tensorflow_loaded"])},
    ]
    print(table(rows, ["what", "value"]))
    print(f"written {save_results('dashboard_load', res)}")


if __name__ == "__main__":
    main()
