// The Markdown report (bench/results/report.md) and the SVG chart of the ratios
// (bench/results/ratios.svg): one horizontal bar per metric on a log scale around 1.0, green to
// the right where Mailroom is better, red to the left where the peer is.
import { formatGoal, formatMiB, formatPass, formatRatio, formatSpread, formatValue, type BenchResults, type MetricResult } from "./results.js";

const escapeXml = (text: string): string => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const escapeCell = (text: string): string => text.replace(/\|/g, "\\|");

function side(m: MetricResult, which: "mailroom" | "peer"): string {
  const summary = m[which];
  if (summary) return `${formatValue(summary.median, m.unit)} ${formatSpread(summary)}`;
  const skipped = which === "mailroom" ? m.mailroomSkipped : m.peerSkipped;
  return skipped ? `skipped: ${escapeCell(skipped)}` : "—";
}

export function renderMarkdown(results: BenchResults): string {
  const lines = [
    "# Mailroom benchmark",
    "",
    `Run ${results.startedAt} to ${results.finishedAt} with \`${results.command}\`.`,
    "",
    `Machine: ${results.machine.cpus} x ${results.machine.cpuModel}, ${results.machine.memoryGiB} GiB, Linux ${results.machine.kernel}, Node.js ${results.machine.node}; 1-minute load average ${results.machine.loadAverage.map((l) => l.toFixed(1)).join(" at the start, ")} at the end.`,
    `Mailroom ${results.versions.mailroom}; peer: ${results.versions.peer ?? "not run"}.`,
    "",
    `**The machine was shared** (other builds and tests ran beside the bench), so the figures are noisy: 1-minute load average ${results.machine.loadAverage.map((l) => l.toFixed(1)).join(" → ")} on ${results.machine.cpus} CPUs.`,
    "",
    "Ratio > 1 means Mailroom is better (faster, or less memory). Values are medians of the runs; ± is half the range of the runs over the median.",
    "",
    `Targets are issue #13's; ${results.metrics.filter((m) => m.pass === true).length} pass, ${results.metrics.filter((m) => m.pass === false).length} fail, ${results.metrics.filter((m) => m.goal && (m.pass === null || m.pass === undefined)).length} not judged (a side did not run).`,
    "",
    "| workload | metric | Mailroom | Dovecot+Postfix | ratio | target | pass/fail |",
    "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ...results.metrics.map((m) => `| ${m.workload} | ${escapeCell(m.title)} | ${side(m, "mailroom")} | ${side(m, "peer")} | ${formatRatio(m.ratio)} | ${formatGoal(m)} | ${formatPass(m.pass)} |`),
    "",
    "## Peak RSS of the server processes",
    "",
    "VmRSS summed over each server's process tree (Mailroom: one process; peer: Dovecot's and Postfix's masters and all their children), sampled while the workload ran. Shared pages count once per process, as in `ps`.",
    "",
    "| workload | Mailroom | Dovecot+Postfix | peer processes |",
    "| --- | ---: | ---: | ---: |",
    ...results.memory.map((m) => `| ${m.workload} | ${formatMiB(m.mailroomPeakRssKib)} | ${formatMiB(m.peerPeakRssKib)} | ${m.peerProcesses ?? "—"} |`),
    "",
    "## Setup",
    "",
    ...results.setup.map((s) => `- ${s}`),
  ];
  if (results.notes.length > 0) lines.push("", "## Notes", "", ...results.notes.map((n) => `- ${n}`));
  lines.push("", "![ratios](ratios.svg)", "");
  return lines.join("\n");
}

export function renderRatioChart(results: BenchResults): string {
  const rows = results.metrics;
  const labelWidth = 330;
  const plotWidth = 420;
  const rowHeight = 22;
  const top = 40;
  const height = top + rows.length * rowHeight + 40;
  const width = labelWidth + plotWidth + 90;
  // log2 scale clamped to 1/16 .. 16.
  const maxLog = 4;
  const center = labelWidth + plotWidth / 2;
  const x = (ratio: number) => center + (Math.max(-maxLog, Math.min(maxLog, Math.log2(ratio))) / maxLog) * (plotWidth / 2);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">Mailroom vs Dovecot+Postfix (ratio, log scale; right of 1 = Mailroom better)</text>`,
  ];
  for (const tick of [1 / 16, 1 / 4, 1, 4, 16]) {
    const tx = x(tick);
    parts.push(`<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${height - 30}" stroke="${tick === 1 ? "#333" : "#ddd"}"/>`);
    parts.push(`<text x="${tx}" y="${height - 14}" text-anchor="middle" fill="#555">${tick >= 1 ? tick : `1/${1 / tick}`}</text>`);
  }
  rows.forEach((m, i) => {
    const y = top + i * rowHeight;
    parts.push(`<text x="${labelWidth - 8}" y="${y + 14}" text-anchor="end">${escapeXml(m.title)}</text>`);
    if (m.ratio === null) {
      parts.push(`<text x="${center + 6}" y="${y + 14}" fill="#999">not compared</text>`);
      return;
    }
    const end = x(m.ratio);
    const left = Math.min(center, end);
    parts.push(`<rect x="${left}" y="${y + 3}" width="${Math.max(1, Math.abs(end - center))}" height="${rowHeight - 8}" fill="${m.ratio >= 1 ? "#3a9d5d" : "#c94c4c"}"/>`);
    parts.push(`<text x="${labelWidth + plotWidth + 8}" y="${y + 14}">${formatRatio(m.ratio)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
