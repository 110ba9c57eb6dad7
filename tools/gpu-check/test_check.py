#!/usr/bin/env python3
"""Tests of check.py that need no GPU, no Java and no torch: the report survives a cut-off at any point, and a
throughput row carries the per-chunk times and the attention that actually ran.

The cut-off tests run check.py's own step machinery (Check.step, the report writes, the SIGTERM handler, main)
and run-on-gpu.sh itself, in real child processes that are really killed; only the step list is the test's own
(two quick steps with figures, then one that hangs), set by a small launcher (fake bundle's check.py) that
imports the real check.py. The throughput test runs Check.pipefill_throughput with a launcher that prints a
prefill JSON: the real CLI's output when PIPEFILL_TEST_PREFILL_JSON names one (GpuCheckScriptTest in the cli
module writes it from a CPU prefill of the tiny model), skipped otherwise.

    python3 tools/gpu-check/test_check.py        # or: mvn -o -q -pl cli -am test -Dtest=GpuCheckScriptTest ...
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check.py")
# a sleep no other process on the machine runs, so that the test can tell whether the step's child survived
CHILD_SLEEP = "317.25"

# the fake bundle's check.py: the real check.py's main and step machinery, with this step list
FAKE_CHECK = r'''
import importlib.util, os, sys, time
spec = importlib.util.spec_from_file_location("check", os.environ["PIPEFILL_TEST_REAL_CHECK"])
check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check)

def run(self):
    self.step("first", lambda: {"ok": True, "figure": 1.5})
    self.step("second", lambda: {"ok": True, "figure": 2.5, "nested": {"tokens_per_s": 1234.5}})
    if os.environ.get("PIPEFILL_TEST_HANG") == "child":
        # a child in its own session, as pipefill and the probes run: the terminate handler must kill it
        self.step("hangs", lambda: check.run_cmd(["sleep", "%s"], 300))
    elif os.environ.get("PIPEFILL_TEST_HANG"):
        self.step("hangs", lambda: time.sleep(300) or {"ok": True})
    return self.finish()

check.Check.run = run
sys.exit(check.main(sys.argv[1:]))
''' % CHILD_SLEEP


def read_json(path):
    with open(path) as f:
        return json.load(f)


def sleeping_children():
    """Pids of processes running `sleep CHILD_SLEEP` (read from /proc)."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if f.read().split(b"\0")[:2] == [b"sleep", CHILD_SLEEP.encode()]:
                        pids.append(int(d))
            except OSError:
                pass
    return pids


class FakeBundle:
    """A directory laid out as run-on-gpu.sh expects a bundle: goldens/manifest.json, an executable jre/bin/java
    (never run by the fake steps), run-on-gpu.sh itself and the fake check.py."""

    def __init__(self, root):
        self.dir = os.path.join(root, "bundle")
        os.makedirs(os.path.join(self.dir, "goldens"))
        os.makedirs(os.path.join(self.dir, "jre", "bin"))
        with open(os.path.join(self.dir, "goldens", "manifest.json"), "w") as f:
            json.dump({"built": "test", "commit": "test", "models": {}, "goldens": {}, "new_tokens": 1}, f)
        java = os.path.join(self.dir, "jre", "bin", "java")
        with open(java, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(java, os.stat(java).st_mode | stat.S_IXUSR)
        shutil.copy(os.path.join(HERE, "run-on-gpu.sh"), self.dir)
        with open(os.path.join(self.dir, "check.py"), "w") as f:
            f.write(FAKE_CHECK)

    def env(self, **extra):
        env = dict(os.environ, PIPEFILL_TEST_REAL_CHECK=CHECK, PIPEFILL_PYTHON=sys.executable)
        env.pop("OUT", None)
        env.update(extra)
        return env


class ReportSurvivesCutOffTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gpu-check-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.bundle = FakeBundle(self.tmp)
        self.out = os.path.join(self.tmp, "out")
        self.work = os.path.join(self.tmp, "work")

    def assert_finished_steps(self, report):
        self.assertEqual(report["steps"]["first"]["figure"], 1.5)
        self.assertEqual(report["steps"]["second"]["nested"], {"tokens_per_s": 1234.5})
        self.assertTrue(report["steps"]["first"]["ok"] and report["steps"]["second"]["ok"])
        self.assertNotIn("hangs", report["steps"], "a step cut off has no result, only running_step")
        self.assertIs(report["complete"], False)
        self.assertEqual(report["running_step"]["name"], "hangs")

    def assert_no_temporary_files(self):
        self.assertEqual(sorted(os.listdir(self.out)), ["progress.log", "report.json"])

    def start_fake_check(self, hang):
        return subprocess.Popen([sys.executable, os.path.join(self.bundle.dir, "check.py"), "run", "--bundle",
                                 self.bundle.dir, "--deadline-s", "60", "--out", self.out],
                                env=self.bundle.env(PIPEFILL_TEST_HANG=hang, PIPEFILL_CHECK_WORK=self.work),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)

    def wait_for_running_step(self, p, name, limit_s=15):
        """Polls the report until it names `name` as running; every read must parse (the writes are atomic)."""
        path = os.path.join(self.out, "report.json")
        end = time.monotonic() + limit_s
        while time.monotonic() < end:
            if os.path.exists(path):
                r = read_json(path)  # a torn write would raise here
                if r.get("running_step", {}).get("name") == name:
                    return r
            if p.poll() is not None:
                self.fail("check.py ended (rc %s) before step %s: %s" % (p.returncode, name, p.stderr.read()))
            time.sleep(0.02)
        self.fail("step %s never showed as running in %s" % (name, path))

    def test_sigkill_mid_step_leaves_the_finished_steps_and_names_the_running_one(self):
        p = self.start_fake_check("sleep")
        self.addCleanup(lambda: p.poll() is None and os.killpg(p.pid, signal.SIGKILL))
        self.wait_for_running_step(p, "hangs")
        os.killpg(p.pid, signal.SIGKILL)  # no handler runs: what is on disk is all that comes back
        p.communicate(timeout=10)
        report = read_json(os.path.join(self.out, "report.json"))
        self.assert_finished_steps(report)
        self.assertNotIn("fatal", report)
        self.assert_no_temporary_files()
        with open(os.path.join(self.out, "progress.log")) as f:
            progress = f.read()
        self.assertIn("first: ok", progress)
        self.assertIn("second: ok", progress)
        self.assertIn("gpu-check: hangs (", progress, "the running step's start is in the progress file")

    def test_sigterm_mid_step_kills_the_steps_child_and_writes_the_report_with_the_reason(self):
        self.assertEqual(sleeping_children(), [], "a sleep %s left over from an earlier run" % CHILD_SLEEP)
        p = self.start_fake_check("child")
        self.addCleanup(lambda: p.poll() is None and os.killpg(p.pid, signal.SIGKILL))
        self.wait_for_running_step(p, "hangs")
        deadline = time.monotonic() + 10  # the report is written just before the step starts its child: wait for it
        while not sleeping_children() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertNotEqual(sleeping_children(), [], "the step's child never started")
        os.kill(p.pid, signal.SIGTERM)  # check.py alone, as timeout(1) signals it
        p.communicate(timeout=10)
        survivors = sleeping_children()
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)
        self.assertEqual(survivors, [], "the terminated check left its step's child running")
        self.assertEqual(p.returncode, 124)
        report = read_json(os.path.join(self.out, "report.json"))
        self.assert_finished_steps(report)
        self.assertEqual(report["fatal"], "check.py was terminated (signal %d) while step hangs was running"
                         % signal.SIGTERM)
        self.assert_no_temporary_files()

    def test_hard_limit_of_run_on_gpu_sh_returns_the_finished_steps_and_kills_the_steps_child(self):
        self.assertEqual(sleeping_children(), [], "a sleep %s left over from an earlier run" % CHILD_SLEEP)
        t0 = time.monotonic()
        p = subprocess.run([os.path.join(self.bundle.dir, "run-on-gpu.sh")], capture_output=True, text=True, timeout=60,
                           env=self.bundle.env(OUT=self.out, PIPEFILL_TEST_HANG="child", PIPEFILL_CHECK_WORK=self.work,
                                               PIPEFILL_CHECK_HARD_LIMIT_S="8"))
        survivors = sleeping_children()
        for pid in survivors:
            os.kill(pid, signal.SIGKILL)
        self.assertEqual(survivors, [], "the terminated check left its step's child running")
        self.assertLess(time.monotonic() - t0, 25, "the terminate handler should end the check at once")
        self.assertEqual(p.returncode, 1, p.stderr)
        printed = json.loads(p.stdout)
        report = read_json(os.path.join(self.out, "report.json"))
        self.assertEqual(printed, report, "the report printed is the one returned in $OUT")
        self.assert_finished_steps(report)
        self.assertIn("hard limit of 8s while step hangs was running", report["fatal"])
        self.assert_no_temporary_files()

    def test_a_finished_check_writes_the_complete_report_it_prints(self):
        p = self.start_fake_check("")
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        report = read_json(os.path.join(self.out, "report.json"))
        self.assertEqual(json.loads(out)["summary"], report["summary"])
        self.assertIs(report["complete"], True)
        self.assertNotIn("running_step", report)
        self.assertEqual(report["summary"]["passed"], ["first", "second"])
        self.assertTrue(report["summary"]["all_checks_passed"])
        self.assert_no_temporary_files()

    def test_without_an_output_directory_the_report_goes_to_the_work_directory(self):
        p = subprocess.run([sys.executable, os.path.join(self.bundle.dir, "check.py"), "run", "--bundle",
                            self.bundle.dir, "--deadline-s", "60"], capture_output=True, text=True, timeout=30,
                           env=self.bundle.env(PIPEFILL_TEST_HANG="", PIPEFILL_CHECK_WORK=self.work))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIs(read_json(os.path.join(self.work, "report.json"))["complete"], True)
        self.assertTrue(os.path.exists(os.path.join(self.work, "progress.log")))


def load_check():
    import importlib.util
    spec = importlib.util.spec_from_file_location("check_under_test", CHECK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ThroughputRowTest(unittest.TestCase):
    """Check.pipefill_throughput on a launcher that prints the CLI's real prefill JSON (CPU, tiny model)."""

    def setUp(self):
        source = os.environ.get("PIPEFILL_TEST_PREFILL_JSON")
        if not source:
            self.skipTest("PIPEFILL_TEST_PREFILL_JSON is not set (GpuCheckScriptTest in the cli module sets it)")
        self.prefill = read_json(source)
        self.tmp = tempfile.mkdtemp(prefix="gpu-check-row-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.check = load_check()
        FakeBundle(self.tmp)

    def row(self, prefill, attention=None):
        printed = os.path.join(self.tmp, "prefill.json")
        with open(printed, "w") as f:
            json.dump(prefill, f)
        launcher = os.path.join(self.tmp, "pipefill")
        with open(launcher, "w") as f:
            f.write("#!/bin/sh\ncat '%s'\n" % printed)
        os.chmod(launcher, 0o755)
        env = {"PIPEFILL_CHECK_LAUNCHER": launcher, "PIPEFILL_CHECK_WORK": os.path.join(self.tmp, "work")}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            c = self.check.Check(os.path.join(self.tmp, "bundle"), 60, os.path.join(self.tmp, "out"))
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        r = c.pipefill_throughput(8192, attention)
        self.assertTrue(r["ok"], r.get("error"))
        return r["row"]

    def test_a_row_carries_each_chunks_time_and_the_attention_that_ran(self):
        row = self.row(self.prefill)
        self.assertEqual([c["ms"] for c in row["chunks"]], [c["ms"] for c in self.prefill["chunks"]])
        self.assertEqual(sum(c["size"] for c in row["chunks"]), self.prefill["prompt_tokens"])
        self.assertTrue(all(c["ms"] > 0 for c in row["chunks"]))
        self.assertEqual(row["attention_requested"], "cpu")
        self.assertEqual(row["attention_used"], {"cpu": self.prefill["attention"]["used"]["cpu"]["chunks"]})
        self.assertIs(row["fell_back"], False)
        self.assertNotIn("fallbacks", row)
        self.assertNotIn("attention_error", row)

    def test_a_row_whose_chunks_ran_another_attention_is_flagged_with_the_reason(self):
        # the CLI's JSON as a cuDNN run writes it when cuDNN refused the later chunks (CudaStage via AttentionUsage)
        p = json.loads(json.dumps(self.prefill))
        reason = "cuDNN: cuDNN offers no engine for causal attention AttentionShape[rows=8192, pos0=8192]"
        p["attention"] = {"requested": "cudnn", "used": {"cudnn": {"chunks": 1, "tokens": 8192, "layer_calls": 32},
                                                         "flash": {"chunks": 3, "tokens": 24576, "layer_calls": 96}},
                          "fell_back": True, "fallbacks": [{"implementation": "flash", "reason": reason, "chunks": 3,
                                                            "first_position": 8192}],
                          "fallback_chunks_not_listed": 0}
        row = self.row(p, "cudnn")
        self.assertEqual(row["attention"], "cudnn")
        self.assertEqual(row["attention_used"], {"cudnn": 1, "flash": 3})
        self.assertIs(row["fell_back"], True)
        self.assertEqual(row["fallbacks"], [{"implementation": "flash", "chunks": 3, "first_position": 8192,
                                             "reason": reason}])
        # the check reads the counts itself too: a worker that forgot its flag is still caught
        p["attention"]["fell_back"] = False
        p["attention"]["fallbacks"] = []
        self.assertIs(self.row(p, "cudnn")["fell_back"], True)

    def test_a_worker_that_reports_another_request_than_the_one_asked_for_is_named(self):
        row = self.row(self.prefill, "wgmma")
        self.assertEqual(row["attention_error"], "asked for wgmma but the worker ran with cpu requested")

    def test_a_prefill_json_without_the_field_says_so(self):
        p = dict(self.prefill)
        del p["attention"]
        row = self.row(p)
        self.assertIsNone(row["fell_back"])
        self.assertIn("no \"attention\" field", row["attention_error"])


if __name__ == "__main__":
    unittest.main()
