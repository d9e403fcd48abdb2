// A small hand-written SVG generator for the README's benchmark chart: horizontal grouped bars
// (one group per task, one bar per input size) on a log scale, since the contenders span four
// orders of magnitude. Plain SVG 1.1 text with no scripts and no external fonts, so GitHub
// renders it as an <img>.

export interface ChartRow {
  label: string;
  /** Drawn in bold: the rows the chart is about. */
  emphasis?: boolean;
  /** One value per series (null: not measured); must be > 0 to be drawn. */
  values: (number | null)[];
  /** Text written at the end of each bar. */
  valueLabels: string[];
}

export interface BarChart {
  title: string;
  subtitle: string;
  /** Axis caption, e.g. "throughput, MB/s (log scale; longer is faster)". */
  axisLabel: string;
  series: string[];
  rows: ChartRow[];
  /** Tick label for a power of ten on the axis. */
  tickLabel(value: number): string;
}

const COLORS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2"];
const FONT = "font-family=\"-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\"";

function escapeText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function renderBarChart(chart: BarChart): string {
  const width = 980;
  const labelWidth = 250;
  const valueWidth = 150;
  const plotWidth = width - labelWidth - valueWidth;
  const barHeight = 11;
  const barGap = 2;
  const groupGap = 12;
  const top = 86;
  const groupHeight = chart.series.length * (barHeight + barGap) - barGap;
  const plotHeight = chart.rows.length * (groupHeight + groupGap);
  const height = top + plotHeight + 40;

  const values = chart.rows.flatMap((row) => row.values).filter((v): v is number => v !== null && v > 0);
  const low = Math.floor(Math.log10(Math.min(...values)));
  const high = Math.ceil(Math.log10(Math.max(...values)));
  const x = (value: number) => labelWidth + ((Math.log10(value) - low) / (high - low || 1)) * plotWidth;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="16" y="24" font-size="16" font-weight="bold" fill="#222">${escapeText(chart.title)}</text>`);
  out.push(`<text x="16" y="44" fill="#555">${escapeText(chart.subtitle)}</text>`);

  // Legend.
  let legendX = labelWidth;
  chart.series.forEach((name, i) => {
    out.push(`<rect x="${legendX}" y="56" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(`<text x="${legendX + 17}" y="66" fill="#333">${escapeText(name)}</text>`);
    legendX += 30 + name.length * 7;
  });

  // Decade grid lines and tick labels.
  for (let decade = low; decade <= high; decade++) {
    const gx = x(10 ** decade);
    out.push(`<line x1="${gx.toFixed(1)}" y1="${top - 6}" x2="${gx.toFixed(1)}" y2="${top + plotHeight}" stroke="#ddd"/>`);
    out.push(`<text x="${gx.toFixed(1)}" y="${top + plotHeight + 16}" text-anchor="middle" fill="#555">${escapeText(chart.tickLabel(10 ** decade))}</text>`);
  }
  out.push(`<text x="${labelWidth + plotWidth / 2}" y="${top + plotHeight + 34}" text-anchor="middle" fill="#333">${escapeText(chart.axisLabel)}</text>`);

  chart.rows.forEach((row, r) => {
    const groupTop = top + r * (groupHeight + groupGap);
    if (r % 2 === 0) out.push(`<rect x="0" y="${groupTop - groupGap / 2}" width="${width}" height="${groupHeight + groupGap}" fill="#f6f8fa" fill-opacity="0.6"/>`);
    out.push(
      `<text x="${labelWidth - 10}" y="${groupTop + groupHeight / 2 + 4}" text-anchor="end" fill="#222"${row.emphasis ? ' font-weight="bold"' : ""}>${escapeText(row.label)}</text>`,
    );
    row.values.forEach((value, s) => {
      const barTop = groupTop + s * (barHeight + barGap);
      if (value === null || value <= 0) {
        out.push(`<text x="${labelWidth + 4}" y="${barTop + barHeight - 2}" font-size="10" fill="#999">not measured</text>`);
        return;
      }
      const barEnd = Math.max(x(value), labelWidth + 1);
      out.push(`<rect x="${labelWidth}" y="${barTop}" width="${(barEnd - labelWidth).toFixed(1)}" height="${barHeight}" fill="${COLORS[s % COLORS.length]}"/>`);
      out.push(`<text x="${(barEnd + 4).toFixed(1)}" y="${barTop + barHeight - 2}" font-size="10" fill="#333">${escapeText(row.valueLabels[s] ?? "")}</text>`);
    });
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
