// Charts drawn with the plotly.min.js that the server ships from the installed plotly package.
import { sig3 } from "./api.js";

const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
const LAYOUT = {
  margin: { l: 60, r: 20, t: 10, b: 45 },
  font: { family: getComputedStyle(document.documentElement).fontFamily, size: 12 },
  legend: { orientation: "h", y: 1.12 },
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "rgba(0,0,0,0)",
};
export const COLORS = { train: "#1f6feb", val: "#e8710a", normal: "#2e7d32", anomaly: "#c62828", threshold: "#111" };

function plot(el, traces, layout) {
  el.classList.remove("empty-chart");
  return window.Plotly.react(el, traces, { ...LAYOUT, ...layout }, CONFIG);
}

/** A chart with nothing to draw says so in words instead of drawing empty axes. */
export function emptyChart(el, text) {
  window.Plotly.purge(el);
  el.classList.add("empty-chart");
  el.replaceChildren(document.createTextNode(text));
}

/** Tick values and labels of a log axis from `lo` to `hi`: 1, 2, 5 of each power of ten over up
 * to three decades, powers of ten alone beyond (never Plotly's unlabelled-looking minor digits). */
export function logTicks(lo, hi) {
  const first = Math.floor(Math.log10(lo));
  const last = Math.ceil(Math.log10(hi));
  const steps = last - first > 3 ? [1] : [1, 2, 5];
  const vals = [];
  for (let e = first; e <= last; e++) {
    for (const m of steps) {
      const v = m * 10 ** e;
      if (v >= lo / 1.0001 && v <= hi * 1.0001) vals.push(Number(v.toPrecision(3)));
    }
  }
  if (vals.length < 2) return { tickformat: ".3~g" };
  return { tickmode: "array", tickvals: vals, ticktext: vals.map(sig3) };
}

/** Train and validation loss per epoch (points: one per epoch). */
export function lossChart(el, history) {
  const traces = [];
  const train = history?.train_loss || [];
  const val = history?.val_loss || [];
  if (train.length) traces.push({ name: "train loss", y: train, x: train.map((_, i) => i + 1), mode: "lines+markers", line: { color: COLORS.train } });
  if (val.length) traces.push({ name: "validation loss", y: val, x: val.map((_, i) => i + 1), mode: "lines+markers", line: { color: COLORS.val } });
  return plot(el, traces, { xaxis: { title: { text: "epoch" }, rangemode: "tozero" }, yaxis: { title: { text: "loss" } } });
}

function centers(edges, spacing) {
  return edges.slice(0, -1).map((lo, i) => (spacing === "log" ? Math.sqrt(lo * edges[i + 1]) : (lo + edges[i + 1]) / 2));
}

/** The score histogram: training, and a dataset's normal and anomalous rows, as step lines (one
 * point per bin) with the threshold as a vertical line (draggable when `editable`). */
export function histogramChart(el, hist, threshold, { editable = false } = {}) {
  const x = centers(hist.edges, hist.spacing);
  const share = (part) => part.counts.map((c) => (part.rows ? c / part.rows : 0));
  const series = [["training", hist.training, COLORS.train]];
  if (hist.normal) series.push([hist.anomaly ? "eval: normal" : "eval", hist.normal, COLORS.normal]);
  if (hist.anomaly) series.push(["eval: anomaly", hist.anomaly, COLORS.anomaly]);
  const traces = series.map(([name, part, color]) => ({
    name: `${name} (${part.rows.toLocaleString("en-US")} rows)`,
    x,
    y: share(part),
    customdata: part.counts,
    hovertemplate: "score %{x:.3g}: %{customdata} rows<extra>%{fullData.name}</extra>",
    mode: "lines",
    line: { shape: "hvh", color, width: 2 },
    fill: "tozeroy",
    opacity: 0.6,
  }));
  const log = hist.spacing === "log";
  const layout = {
    xaxis: {
      title: { text: "anomaly score" + (log ? " (log scale)" : "") }, type: log ? "log" : "linear",
      ...(log ? logTicks(hist.edges[0], hist.edges[hist.edges.length - 1]) : { tickformat: ".3~s" }),
    },
    yaxis: { title: { text: "share of rows" }, rangemode: "tozero", tickformat: ".0%" },
    // the legend under the axis, so the threshold's label above the plot never covers it
    legend: { orientation: "h", x: 0, y: -0.22, yanchor: "top" },
    margin: { ...LAYOUT.margin, t: 28, b: 80 },
    shapes: [thresholdLine(threshold, editable)],
  };
  return window.Plotly.react(el, traces, { ...LAYOUT, ...layout }, { ...CONFIG, edits: { shapePosition: editable } });
}

function thresholdLine(threshold, editable) {
  return {
    type: "line", x0: threshold, x1: threshold, y0: 0, y1: 1, yref: "paper",
    line: { color: COLORS.threshold, width: editable ? 3 : 2, dash: "dash" },
    label: { text: `threshold ${sig3(threshold)}`, textposition: "end", textangle: 0, xanchor: "left", yanchor: "bottom", font: { size: 11 } },
    editable,
  };
}

/** Move the threshold line to `threshold`. */
export function moveThreshold(el, threshold, editable = true) {
  // the whole list, not "shapes[0]": Plotly 4 keeps drawing a labelled shape replaced by index
  return window.Plotly.relayout(el, { shapes: [thresholdLine(threshold, editable)] });
}

/** Horizontal bars: each column's share of a row's score (points: one per column). */
export function contributionChart(el, contributions) {
  const items = [...contributions].reverse();
  return plot(el, [{
    type: "bar", orientation: "h",
    y: items.map((c) => c.column), x: items.map((c) => c.share ?? 0),
    marker: { color: items.map((c, i) => (i >= items.length - 3 ? COLORS.anomaly : "#8aa4c8")) },
    hovertemplate: "%{y}: %{x:.1%}<extra></extra>",
  }], {
    margin: { ...LAYOUT.margin, l: 140 },
    xaxis: { title: { text: "share of the row's score" }, tickformat: ".0%", rangemode: "tozero" },
    yaxis: { automargin: true },
    height: Math.max(220, 26 * items.length + 70),
    showlegend: false,
  });
}

const VERDICT_COLORS = { stable: COLORS.normal, watch: "#b26a00", drifted: COLORS.anomaly, no_data: "#9aa4b2" };

/** Horizontal bars: each column's PSI against training, colored by its verdict, with the watch
 * and drift limits as dashed lines (points: one per column, most drifted on top). Every bar is
 * labelled: the chart grows with the columns (its box scrolls) instead of skipping names. */
export function driftChart(el, columns, psiLimits) {
  const items = [...columns].reverse();
  const limit = (x) => ({ type: "line", x0: x, x1: x, y0: 0, y1: 1, yref: "paper", line: { color: "#888", width: 1, dash: "dot" } });
  el.style.height = `${Math.max(260, 20 * items.length + 70)}px`;
  return plot(el, [{
    type: "bar", orientation: "h", name: "PSI",
    y: items.map((c) => c.column), x: items.map((c) => c.psi ?? 0),
    customdata: items.map((c) => [c.verdict, c.kind === "numeric" ? `KS ${c.ks?.toFixed(3) ?? "–"}` : `unseen ${((c.unseen_share ?? 0) * 100).toFixed(1)}%`]),
    marker: { color: items.map((c) => VERDICT_COLORS[c.verdict] || "#8aa4c8") },
    hovertemplate: "%{y}: PSI %{x:.3f}, %{customdata[1]} (%{customdata[0]})<extra></extra>",
  }], {
    margin: { ...LAYOUT.margin, l: 120, t: 10 },
    xaxis: { title: { text: "population stability index" }, rangemode: "tozero", tickformat: ".2~f" },
    yaxis: { automargin: true, tickmode: "array", tickvals: items.map((c) => c.column), ticktext: items.map((c) => c.column), tickfont: { size: 11 } },
    height: Math.max(260, 20 * items.length + 70),
    shapes: psiLimits.map(limit),
    showlegend: false,
  });
}

/** The anomaly rate of each interval of the window as bars over time (an interval without rows
 * has no bar), with the rate the threshold expects as a dashed line across the window. */
export function rateChart(el, series, expected) {
  const x = series.map((p) => p.since);
  const width = series.length > 1 ? new Date(series[1].since) - new Date(series[0].since) : undefined;
  const end = series.length ? new Date(new Date(x[x.length - 1]).getTime() + (width || 0)).toISOString() : undefined;
  return plot(el, [
    { type: "bar", name: "anomaly rate", x, y: series.map((p) => p.rate), customdata: series.map((p) => [p.anomalies, p.rows]),
      marker: { color: COLORS.anomaly, opacity: 0.8 }, width: width ? 0.85 * width : undefined, offset: 0,
      hovertemplate: "%{x}: %{y:.1%} (%{customdata[0]} of %{customdata[1]} rows)<extra></extra>" },
    { name: "expected", x: [x[0], end], y: [expected, expected], mode: "lines", line: { color: COLORS.threshold, dash: "dash", width: 1.5 }, hoverinfo: "skip" },
  ], {
    yaxis: { title: { text: "share of rows flagged" }, tickformat: ".0%", rangemode: "tozero" },
    xaxis: { type: "date" },
    legend: { orientation: "h", y: 1.14 },
    margin: { ...LAYOUT.margin, t: 30 },
  });
}
