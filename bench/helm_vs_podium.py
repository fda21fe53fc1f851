"""HELM 0.5.16 and `podium eval` on the same HELM conf against the same fixed-latency server.

Each tool runs as a whole process, start to exit, against a fresh `fixed_latency_server.py`
(asyncio, its own process) that answers every /process after a fixed latency. The figures are
requests sent (counted by the server), wall time, the ideal (requests x latency / concurrency),
the ratio to ideal, and Podium's speed-up over HELM.

    .venv/bin/python bench/helm_vs_podium.py                       # the organizers' open conf
    .venv/bin/python bench/helm_vs_podium.py --only gsm --only anatomy   # a quick subset

HELM goes into its own virtualenv (`--helm-venv`, created on first use with
`pip install crfm-helm==0.5.16 torch==2.13.0`, reused after), never into the project. It cannot
download its scenario data here, so each run gets a fresh output folder under /tmp whose
download cache is pre-filled from the shared scenario data (`ensure_file_downloaded` skips a
target that exists):

- MMLU, GSM8K, TruthfulQA (v1 CSV, the file HELM pins) and the 18 BIG-bench tasks: byte copies.
- BBQ: the shared data has 6 of the 11 categories. The 5 missing ones are given to HELM as empty
  files, so HELM reads the same 6 categories Podium reads (same instances to sample from).
- Perturbations (`data_augmentation=canonical`): misspellings ship inside crfm-helm; the
  SAE->AAVE mapping is the shared copy (converted from the VALUE lexicon, not HELM's hosted
  file); HELM's `person_names.txt` has no public copy, so HELM gets Podium's first-name list
  (`evaluator.perturbations.person_name.PODIUM_FIRST_NAMES`, same file format). Substituted names
  differ from an official HELM run; the amount of work does not.
- NLTK's `punkt_tab` (HELM's BLEU, used by linguistics_puzzles) cannot be downloaded: HELM sends
  those 4 run specs' requests, fails them in their metrics and exits 1 (the output names them).
  `--nltk-data` points HELM at a folder that has it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluator.perturbations.person_name import PODIUM_FIRST_NAMES  # noqa: E402
from evaluator.scenarios.bbq import HELM_CATEGORIES  # noqa: E402

DEFAULT_CONF = ROOT.parent / "shared" / "challenge-2023" / "run_specs_open_2000_budget.conf"
DEFAULT_DATA = ROOT.parent / "shared" / "scenarios"
DEFAULT_VENV = Path("~/.cache/podium-bench/helm-0.5.16").expanduser()
HELM_REQUIREMENTS = ("crfm-helm==0.5.16", "torch==2.13.0")
SERVER = Path(__file__).resolve().parent / "fixed_latency_server.py"
# A finished venv has this file; a half-installed one (interrupted pip) is rebuilt.
INSTALLED_MARK = ".podium-bench-installed"
BBQ_CATEGORIES = HELM_CATEGORIES  # HELM reads every category file
_ENTRY = re.compile(r'^\s*\{\s*description:\s*"([^"]*)"')


@dataclass
class Run:
    tool: str
    wall_s: float
    returncode: int
    stats: dict[str, Any]
    started_at: float
    log: Path
    loadavg_before: str
    loadavg_after: str
    note: str = ""
    # Completions the tool scored (HELM's request states, Podium's instances); Podium answers a
    # prompt it already sent from memory, so its /process count can be lower.
    completions: int | None = None


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def subset_conf(conf: Path, only: list[str], out: Path) -> tuple[Path, int]:
    """The conf with only the entries whose description contains one of `only` (all if empty);
    comments and the surrounding `entries: [ ... ]` are kept, entry lines are kept verbatim."""
    lines = conf.read_text().splitlines(keepends=True)
    kept, count = [], 0
    for line in lines:
        match = _ENTRY.match(line)
        if match is None:
            kept.append(line)
        elif not only or any(word in match.group(1) for word in only):
            kept.append(line)
            count += 1
    if not only:
        return conf, count
    out.write_text("".join(kept))
    return out, count


def ensure_helm(venv: Path) -> Path:
    """The venv's python, installing HELM first when the venv is missing or unfinished."""
    python = venv / "bin" / "python"
    if (venv / INSTALLED_MARK).exists():
        return python
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    print(f"installing {' '.join(HELM_REQUIREMENTS)} into {venv} (a few minutes)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *HELM_REQUIREMENTS], check=True)
    (venv / INSTALLED_MARK).write_text(" ".join(HELM_REQUIREMENTS) + "\n")
    return python


def prepare_helm_dir(work: Path, data: Path, base_url: str) -> Path:
    """HELM's prod_env (neurips/local pointed at `base_url`) and a pre-filled download cache."""
    env = work / "prod_env"
    env.mkdir(parents=True, exist_ok=True)
    # The deployment and tokenizer as HELM 0.5.16 ships them, plus the server's URL: a
    # deployment in prod_env replaces the built-in one of the same name.
    (env / "model_deployments.yaml").write_text(
        "model_deployments:\n"
        "  - name: neurips/local\n"
        "    model_name: neurips/local\n"
        "    tokenizer_name: neurips/local\n"
        "    max_sequence_length: 2048\n"
        "    client_spec:\n"
        '      class_name: "helm.clients.http_model_client.HTTPModelClient"\n'
        "      args:\n"
        f"        base_url: {base_url}\n"
    )
    (env / "tokenizer_configs.yaml").write_text(
        "tokenizer_configs:\n"
        "  - name: neurips/local\n"
        "    tokenizer_spec:\n"
        '      class_name: "helm.tokenizers.http_model_tokenizer.HTTPModelTokenizer"\n'
        "      args:\n"
        f"        base_url: {base_url}\n"
        '    end_of_text_token: "<|endoftext|>"\n'
        '    prefix_token: "<|endoftext|>"\n'
    )
    out = work / "benchmark_output"
    scenarios = out / "scenarios"
    shutil.copytree(data / "mmlu" / "data", scenarios / "mmlu" / "data")
    (scenarios / "gsm").mkdir(parents=True)
    for split in ("train", "test"):
        shutil.copy(data / "gsm8k" / f"{split}.jsonl", scenarios / "gsm" / f"gsm_data_{split}")
    (scenarios / "truthful_qa" / "data").mkdir(parents=True)
    shutil.copy(
        data / "truthful_qa" / "data" / "v1" / "TruthfulQA.csv",
        scenarios / "truthful_qa" / "data" / "TruthfulQA.csv",
    )
    (scenarios / "bbq" / "data").mkdir(parents=True)
    for category in BBQ_CATEGORIES:
        source = data / "bbq" / "data" / f"{category}.jsonl"
        target = scenarios / "bbq" / "data" / category
        if source.exists():
            shutil.copy(source, target)
        else:
            target.write_text("")
    shutil.copytree(
        data / "big_bench",
        scenarios / "big_bench",
        ignore=shutil.ignore_patterns("MANIFEST.json"),
    )
    dialect = out / "perturbations" / "dialect"
    dialect.mkdir(parents=True)
    shutil.copy(data / "augmentations" / "SAE_to_AAVE_mapping.json", dialect)
    names = out / "perturbations" / "person_name" / "data"
    names.mkdir(parents=True)
    (names / "person_names.txt").write_text(PODIUM_FIRST_NAMES)
    return out


class Server:
    """fixed_latency_server.py in its own process; `stats()` ends it and returns its counts."""

    def __init__(self, latency_ms: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(SERVER), "--latency-ms", str(latency_ms)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.process.kill()
            raise SystemExit(f"the fixed-latency server did not start (printed {self.url!r})")

    def stats(self) -> dict[str, Any]:
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=30)
        return dict(json.loads(out.strip().splitlines()[-1]))


def timed(tool: str, command: list[str], log: Path, latency_ms: float, **kwargs: Any) -> Run:
    server = Server(latency_ms)
    command = [part.replace("{URL}", server.url) for part in command]
    before = loadavg()
    with log.open("w") as out:
        started_at, started = time.time(), time.perf_counter()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, **kwargs)
        wall = time.perf_counter() - started
    return Run(tool, wall, done.returncode, server.stats(), started_at, log, before, loadavg())


def helm_finished_runs(out: Path, suite: str) -> list[str]:
    """Run spec folders of the suite with a stats.json (HELM writes it last)."""
    return sorted(spec.parent.name for spec in (out / "runs" / suite).glob("*/stats.json"))


def run_helm(
    python: Path,
    conf: Path,
    work: Path,
    data: Path,
    latency_ms: float,
    concurrency: int,
    nltk_data: Path | None,
) -> Run:
    # prod_env needs the server's URL, so the server starts first; copying the data into HELM's
    # download cache happens before the clock starts.
    server = Server(latency_ms)
    out = prepare_helm_dir(work, data, server.url)
    helm_run = python.parent / "helm-run"
    command = [
        str(helm_run),
        "--conf-paths",
        str(conf),
        "--suite",
        "bench",
        # Every entry of the 2023 confs sets its own max_eval_instances, which wins over -m
        # (HELM applies -m only where a run spec has none); 100 is what the organizers passed.
        "-m",
        "100",
        "-n",
        str(concurrency),
        "-o",
        str(out),
        "--local-path",
        str(work / "prod_env"),
        "--disable-cache",
    ]
    log = work / "helm-run.log"
    before = loadavg()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if nltk_data is not None:
        env["NLTK_DATA"] = str(nltk_data)
    with log.open("w") as sink:
        started_at, started = time.time(), time.perf_counter()
        done = subprocess.run(command, stdout=sink, stderr=subprocess.STDOUT, cwd=work, env=env)
        wall = time.perf_counter() - started
    stats = server.stats()
    run = Run("HELM 0.5.16", wall, done.returncode, stats, started_at, log, before, loadavg())
    finished = helm_finished_runs(out, "bench")
    # HELM writes nothing for a run spec that failed; it names them all in its last line.
    text = log.read_text()
    failed = (
        re.findall(r'"([^"]+)"', text.rsplit("Failed runs:", 1)[1])
        if "Failed runs:" in text
        else []
    )
    run.completions = sum(
        len(
            json.loads((out / "runs" / "bench" / name / "scenario_state.json").read_bytes())[
                "request_states"
            ]
        )
        for name in finished
    )
    run.note = f"{len(finished)} run specs finished" + (
        f"; {len(failed)} failed: {', '.join(failed)}" if failed else ""
    )
    return run


def run_podium(conf: Path, work: Path, data: Path, latency_ms: float, concurrency: int) -> Run:
    podium = Path(sys.executable).parent / "podium"
    command = [
        str(podium),
        "eval",
        "--conf",
        str(conf),
        "--base-url",
        "{URL}",
        "--concurrency",
        str(concurrency),
        "--data-dir",
        str(data),
        "--no-cache",
        "--out",
        str(work / "podium-result.json"),
    ]
    run = timed("Podium", command, work / "podium-eval.log", latency_ms)
    result_file = work / "podium-result.json"
    if result_file.exists():
        result = json.loads(result_file.read_text())
        run.note = f"{len(result.get('per_run_spec', {}))} run specs scored"
        run.completions = len(result.get("instances", []))
    return run


def report(runs: list[Run], latency_ms: float, concurrency: int) -> None:
    header = (
        "tool",
        "exit",
        "completions",
        "/process requests",
        "/tokenize",
        "/decode",
        "max in flight",
        "wall s",
        "to 1st request s",
        "after last answer s",
        "ideal s",
        "wall / ideal",
        "load avg before / after",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for run in runs:
        requests = run.stats["process"]
        ideal = requests * latency_ms / 1000 / concurrency
        cells = (
            run.tool,
            str(run.returncode),
            "-" if run.completions is None else str(run.completions),
            str(requests),
            str(run.stats["tokenize"]),
            str(run.stats["decode"]),
            str(run.stats["max_in_flight"]),
            f"{run.wall_s:.1f}",
            f"{run.stats['first_process_at'] - run.started_at:.1f}" if requests else "-",
            f"{run.started_at + run.wall_s - run.stats['last_answer_at']:.1f}" if requests else "-",
            f"{ideal:.1f}",
            f"{run.wall_s / ideal:.2f}x" if ideal else "-",
            f"{run.loadavg_before} / {run.loadavg_after}",
        )
        print("| " + " | ".join(cells) + " |")
    for run in runs:
        print(f"{run.tool}: {run.note} (log: {run.log})")
    by_tool = {run.tool: run for run in runs}
    helm, podium = by_tool.get("HELM 0.5.16"), by_tool.get("Podium")
    if helm and podium:
        print(
            f"Podium speed-up over HELM, end to end: {helm.wall_s / podium.wall_s:.1f}x "
            f"({helm.wall_s:.1f} s / {podium.wall_s:.1f} s)"
        )
        if helm.stats["process"] != podium.stats["process"]:
            print(
                f"note: /process counts differ ({helm.stats['process']} vs "
                f"{podium.stats['process']}): Podium sends a prompt identical to one already "
                "answered in this run once (HELM without its cache sends it again); each "
                "ratio to ideal uses the tool's own count"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", type=Path, default=DEFAULT_CONF)
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="keep only conf entries whose description contains TEXT (repeatable)",
    )
    parser.add_argument(
        "--data", type=Path, default=Path(os.environ.get("PODIUM_SCENARIO_DATA", DEFAULT_DATA))
    )
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--helm-venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument(
        "--nltk-data",
        type=Path,
        help="an NLTK data folder holding tokenizers/punkt_tab (HELM's BLEU needs it and "
        "cannot download it offline: without it linguistics_puzzles fails after its requests)",
    )
    parser.add_argument("--skip-helm", action="store_true", help="run Podium only")
    parser.add_argument("--skip-podium", action="store_true", help="run HELM only")
    parser.add_argument("--keep", action="store_true", help="keep the work folder under /tmp")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="podium-bench-helm-vs-podium-"))
    conf, entries = subset_conf(args.conf, args.only, work / "subset.conf")
    print(
        f"{entries} entries of {args.conf.name}, server latency {args.latency_ms:g} ms, "
        f"concurrency {args.concurrency}, {os.cpu_count()} CPUs, load avg {loadavg()}, "
        f"work folder {work}",
        flush=True,
    )
    runs = []
    try:
        if not args.skip_helm:
            python = ensure_helm(args.helm_venv)
            runs.append(
                run_helm(
                    python,
                    conf,
                    work,
                    args.data,
                    args.latency_ms,
                    args.concurrency,
                    args.nltk_data,
                )
            )
        if not args.skip_podium:
            runs.append(run_podium(conf, work, args.data, args.latency_ms, args.concurrency))
        report(runs, args.latency_ms, args.concurrency)
        for run in runs:
            if run.returncode != 0:
                print(f"--- {run.tool} exited {run.returncode}; end of its log:")
                print("".join(run.log.read_text().splitlines(keepends=True)[-30:]))
    finally:
        if args.keep or any(run.returncode != 0 for run in runs):
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
