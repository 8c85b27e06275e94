// Charts drawn with the plotly.min.js that the server ships from the installed plotly package.

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
  return window.Plotly.react(el, traces, { ...LAYOUT, ...layout }, CONFIG);
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
    hovertemplate: "score %{x:.4g}: %{customdata} rows<extra>%{fullData.name}</extra>",
    mode: "lines",
    line: { shape: "hvh", color, width: 2 },
    fill: "tozeroy",
    opacity: 0.6,
  }));
  const layout = {
    xaxis: { title: { text: "anomaly score" + (hist.spacing === "log" ? " (log scale)" : "") }, type: hist.spacing === "log" ? "log" : "linear" },
    yaxis: { title: { text: "share of rows" }, rangemode: "tozero" },
    shapes: [thresholdLine(threshold, editable)],
  };
  return window.Plotly.react(el, traces, { ...LAYOUT, ...layout }, { ...CONFIG, edits: { shapePosition: editable } });
}

function thresholdLine(threshold, editable) {
  return {
    type: "line", x0: threshold, x1: threshold, y0: 0, y1: 1, yref: "paper",
    line: { color: COLORS.threshold, width: editable ? 3 : 2, dash: "dash" },
    label: { text: `threshold ${Number(threshold.toPrecision(4))}`, textposition: "end", textangle: 0, xanchor: "left", font: { size: 11 } },
    editable,
  };
}

/** Move the threshold line to `threshold`. */
export function moveThreshold(el, threshold, editable = true) {
  return window.Plotly.relayout(el, { "shapes[0]": thresholdLine(threshold, editable) });
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
