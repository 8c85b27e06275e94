// Page 4: the threshold editor. Moving the line (drag or type) asks the API what that value
// would flag (training rows; the dataset's rows with precision, recall and F1 when labelled);
// saving makes a new threshold revision by any strategy of the native API.
import { api, guarded, h, num, pageData, pct, when } from "./api.js";
import { histogramChart, moveThreshold } from "./charts.js";

const { model, version } = pageData();
const base = `/models/${encodeURIComponent(model)}/versions/${version}`;
const $ = (id) => document.getElementById(id);
const chart = $("threshold-chart");
let hist = null;
let asked = 0;

function query(extra = {}) {
  const q = new URLSearchParams(extra);
  const dataset = $("dataset").value;
  if (dataset) {
    q.set("dataset", dataset);
    if ($("label").value.trim()) q.set("label_column", $("label").value.trim());
    if ($("normal").value.trim()) q.set("normal_value", $("normal").value.trim());
  }
  return q;
}

async function drawHistogram() {
  hist = await api(`${base}/histogram?${query({ bins: "60" })}`);
  await histogramChart(chart, hist, Number($("value").value) || hist.threshold, { editable: true });
}

async function preview() {
  const v = Number($("value").value);
  if (!$("value").value.trim() || !Number.isFinite(v)) return;
  const ticket = ++asked;
  const p = await api(`${base}/threshold/preview?${query({ value: String(v) })}`);
  if (ticket !== asked) return; // a newer value is on its way
  $("train-flagged").textContent = `${num(p.training.flagged)} (${pct(p.training.share)})`;
  const e = p.evaluation;
  $("eval-flagged").textContent = e ? `${num(e.flagged)} of ${num(e.rows)}` : "–";
  $("precision").textContent = e && e.precision !== null && e.precision !== undefined ? num(e.precision, 3) : "–";
  $("recall").textContent = e && e.recall !== null && e.recall !== undefined ? num(e.recall, 3) : "–";
  $("f1").textContent = e && e.f1 !== null && e.f1 !== undefined ? num(e.f1, 3) : "–";
  $("confusion").textContent = e && e.confusion
    ? `At ${num(v)}: ${e.confusion.tp} anomalies flagged, ${e.confusion.fp} false alarms, ${e.confusion.fn} anomalies missed, ${e.confusion.tn} normal rows passed.`
    : "";
}

let timer = null;
function changed() {
  clearTimeout(timer);
  timer = setTimeout(() => guarded(preview), 120);
}

function dragged(update) {
  // the line's new x (either end, or both when it was moved whole)
  const xs = ["shapes[0].x0", "shapes[0].x1"].map((k) => update[k]).filter((x) => x !== undefined);
  if (!xs.length) return;
  const x = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = Number(x.toPrecision(6));
  $("value").value = String(v);
  moveThreshold(chart, v);
  changed();
}

async function revisions() {
  const list = await api(`${base}/thresholds`);
  $("revisions").querySelector("tbody").replaceChildren(...[...list.items].reverse().map((r, i) => h("tr", { class: i === 0 ? "selected" : null },
    h("td", {}, when(r.created_at)),
    h("td", { class: "num" }, num(r.value, 6)),
    h("td", {}, r.strategy),
    h("td", {}, Object.entries(r.inputs).map(([k, v]) => `${k}: ${typeof v === "number" ? num(v) : v}`).join(", ")),
    h("td", {}, r.actor || "–"),
    h("td", {}, r.note || ""))));
}

async function save() {
  const strategy = $("strategy").value;
  const body = { strategy };
  const note = $("note").value.trim();
  if (note) body.note = note;
  const amount = Number($("strategy-input").value);
  if (strategy === "value") body.value = Number($("value").value);
  if (strategy === "contamination") body.contamination = amount;
  if (strategy === "fpr") body.target = amount;
  if (strategy === "fpr" || strategy === "best_f1") {
    body.dataset = $("dataset").value || undefined;
    if ($("label").value.trim()) body.label_column = $("label").value.trim();
    if ($("normal").value.trim()) body.normal_value = $("normal").value.trim();
  }
  const revision = await api(`${base}/threshold`, { method: "PUT", json: body });
  $("saved").textContent = `Saved: threshold ${num(revision.value, 6)} (${revision.strategy}) is in force for scoring now.`;
  $("value").value = String(revision.value);
  $("current").textContent = `in force: ${num(revision.value, 6)}`;
  await Promise.all([drawHistogram(), preview(), revisions()]);
}

guarded(async () => {
  const [m, v, datasets] = await Promise.all([api(`/models/${encodeURIComponent(model)}`), api(base), api("/datasets?limit=500")]);
  $("dataset").replaceChildren(h("option", { value: "" }, "(training rows only)"),
    ...datasets.items.map((d) => h("option", { value: d.id, selected: d.id === m.eval_dataset }, `${d.name} (${d.id})`)));
  if (m.eval_dataset && m.label_column) $("label").value = m.label_column;
  if (m.normal_value !== null && m.normal_value !== undefined) $("normal").value = String(m.normal_value);
  const current = v.threshold ? v.threshold.value : null;
  $("value").value = current === null ? "" : String(current);
  $("current").textContent = current === null ? "" : `in force: ${num(current, 6)}`;
  await drawHistogram();
  chart.on("plotly_relayout", dragged);
  await Promise.all([preview(), revisions()]);
});

$("value").addEventListener("input", () => {
  const v = Number($("value").value);
  if (hist && Number.isFinite(v) && $("value").value.trim()) moveThreshold(chart, v);
  changed();
});
for (const id of ["dataset", "label", "normal"]) $(id).addEventListener("change", () => guarded(async () => { await drawHistogram(); await preview(); }));
$("strategy").addEventListener("change", () => {
  const needs = ["contamination", "fpr"].includes($("strategy").value);
  $("strategy-input").hidden = !needs;
  $("strategy-input").placeholder = $("strategy").value === "fpr" ? "largest false-positive rate, e.g. 0.01" : "share of training rows, e.g. 0.02";
});
$("save").addEventListener("submit", (e) => { e.preventDefault(); guarded(save); });
