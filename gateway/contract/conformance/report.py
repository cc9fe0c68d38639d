"""A contract run for people (rich progress, summary table, each failure with a curl line),
for CI (JUnit XML: one testcase per operation) and for scripts (JSON)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from ...core.wording import counted
from .runner import ContractReport, Failure, ServiceResult

MESSAGE_LINES = 8


class RichProgress:
    """One progress bar per service, advanced as each operation's scenario finishes."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[cases]} cases"), TimeElapsedColumn(), console=console)
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.progress.stop()

    def service_started(self, service: str, scenarios: int) -> None:
        self.tasks[service] = self.progress.add_task(escape(service), total=max(scenarios, 1), cases=0)

    def scenario_finished(self, service: str, label: str, cases: int) -> None:
        task = self.tasks[service]
        done = self.progress.tasks[self._index(task)].fields["cases"] + cases
        self.progress.update(task, advance=1, cases=done, description=f"{escape(service)} [dim]{escape(label)}[/]")

    def service_finished(self, result: ServiceResult) -> None:
        task = self.tasks[result.service]
        mark = "[green]✓[/]" if result.ok else "[red]✗[/]"
        total = self.progress.tasks[self._index(task)].total
        self.progress.update(task, completed=total, cases=result.cases, description=f"{mark} {escape(result.service)}")

    def _index(self, task: TaskID) -> int:
        return next(i for i, t in enumerate(self.progress.tasks) if t.id == task)


def by_check(result: ServiceResult) -> Counter[str]:
    """Failing operations per check."""
    return Counter(check for _, check in {(f.label, f.check) for f in result.failures})


def print_summary(report: ContractReport, console: Console) -> None:
    table = Table(title=f"gw contract --target {report.target}", title_justify="left", box=None)
    for column in ("service", "path", "operations", "cases", "refused", "errors", "failures (operations per check)"):
        table.add_column(column, justify="right" if column in ("operations", "cases", "refused", "errors") else "left",
                         overflow="fold")
    for result in report.services:
        checks = by_check(result)
        failing = "\n".join(f"{check} {count}" for check, count in sorted(checks.items())) or "[green]none[/]"
        table.add_row(escape(result.service), escape(result.base_path), str(len(result.operations)), str(result.cases),
                      str(result.refused), f"[red]{len(result.errors)}[/]" if result.errors else "0",
                      f"[red]{escape(failing)}[/]" if checks else failing)
    console.print(table)


def print_failures(report: ContractReport, console: Console) -> None:
    failures = [f for result in report.services for f in result.failures]
    for failure in failures:
        _print_failure(failure, console)
    for result in report.services:
        for error in result.errors:
            console.print(f"[bold red]error[/] {escape(result.service)} · {escape(error)}", soft_wrap=True)
    if failures and report.target in ("stub", "live"):
        mode = " --mode live" if report.target == "live" else ""
        port = report.replay_url.rsplit(":", 1)[-1]
        console.print(f"\nThe curl lines go to {report.replay_url}: replay them against `gw serve{mode} --port {port}` "
                      "(with the same config or spec files).", highlight=False, soft_wrap=True)


def _print_failure(failure: Failure, console: Console) -> None:
    name = failure.operation if failure.operation == failure.label else f"{failure.operation} ({failure.label})"
    cases = f"  [dim]{failure.cases} cases[/]" if failure.cases > 1 else ""
    console.print(f"\n[bold red]✗[/] [bold]{escape(failure.service)} · {escape(name)}[/] · "
                  f"[magenta]{escape(failure.check)}[/]{cases}", soft_wrap=True, highlight=False)
    console.print(f"  {escape(failure.title)} [dim]({failure.phase}, {failure.mode} case, status {failure.status})[/]",
                  soft_wrap=True, highlight=False)
    lines = [line for line in failure.message.splitlines() if line.strip()]
    for line in lines[:MESSAGE_LINES]:
        console.print(f"    {escape(line)}", soft_wrap=True, highlight=False)
    if len(lines) > MESSAGE_LINES:
        console.print(f"    [dim]… {len(lines) - MESSAGE_LINES} more lines (--json has all)[/]", highlight=False)
    console.print(f"  {escape(failure.curl)}", soft_wrap=True, highlight=False)


def print_verdict(report: ContractReport, console: Console) -> None:
    failures = sum(len(r.failures) for r in report.services)
    errors = sum(len(r.errors) for r in report.services)
    cases = sum(r.cases for r in report.services)
    seed = f"seed {report.seed} (same run: --seed {report.seed})"
    if report.ok:
        console.print(f"\n[green]contract honoured[/]: {counted(cases, 'case')}, {seed}, {report.seconds:.1f} s",
                      highlight=False, soft_wrap=True)
    else:
        console.print(f"\n[red]contract broken[/]: {counted(failures, 'failure')}, {counted(errors, 'error')} in "
                      f"{counted(cases, 'case')}, {seed}, {report.seconds:.1f} s", highlight=False, soft_wrap=True)


def to_json(report: ContractReport) -> str:
    data = asdict(report)
    data["ok"] = report.ok
    for result, service in zip(report.services, data["services"], strict=True):
        service["ok"] = result.ok
        service["failing_operations_by_check"] = dict(by_check(result))
    return json.dumps(data, indent=2)


def write_junit(report: ContractReport, path: Path) -> None:
    """JUnit XML: a testsuite per service, a testcase per operation, a <failure> per distinct failure."""
    root = ET.Element("testsuites", name="gw contract", time=f"{report.seconds:.3f}")
    totals = Counter[str]()
    for result in report.services:
        suite = ET.SubElement(root, "testsuite", name=result.service, time=f"{result.seconds:.3f}")
        counts = _junit_suite(suite, result)
        for key, value in counts.items():
            suite.set(key, str(value))
        totals.update(counts)
    for key in ("tests", "failures", "errors"):
        root.set(key, str(totals[key]))
    ET.indent(root)
    path.write_text(ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n", encoding="utf-8")


def _junit_suite(suite: ET.Element, result: ServiceResult) -> Counter[str]:
    counts = Counter[str]()
    for label in result.operations:
        name = result.operation_ids.get(label, label)
        case = ET.SubElement(suite, "testcase", classname=result.service, name=label if name == label else f"{name} ({label})")
        failures = [f for f in result.failures if f.label == label]
        errors = [e for e in result.errors if e.startswith(label + ":")]
        for failure in failures:
            element = ET.SubElement(case, "failure", type=failure.check, message=f"{failure.check}: {failure.title}")
            element.text = f"{failure.message}\n\n{failure.curl}\n"
        for error in errors:
            ET.SubElement(case, "error", message=error).text = error
        counts["tests"] += 1
        counts["failures"] += bool(failures)
        counts["errors"] += bool(errors) and not failures
    other = [e for e in result.errors if not any(e.startswith(label + ":") for label in result.operations)]
    if other:
        case = ET.SubElement(suite, "testcase", classname=result.service, name="(run)")
        for error in other:
            ET.SubElement(case, "error", message=error).text = error
        counts["tests"] += 1
        counts["errors"] += 1
    return counts
