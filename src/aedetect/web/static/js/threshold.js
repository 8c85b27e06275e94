// Page 4: the threshold editor. Moving the line (drag or type) asks the API what that value
// would flag (training rows; the dataset's rows with precision, recall and F1 when labelled);
// saving makes a new threshold revision by any strategy of the native API. A strategy can first
// be proposed: the line moves to what it would set, with what it would have given (the feedback
// strategy: precision and recall on the rows operators labelled).
import { api, guarded, h, num, pageData, pct, sig3, when } from "./api.js";
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
    ? `At ${sig3(v)}: ${e.confusion.tp} anomalies flagged, ${e.confusion.fp} false alarms, ${e.confusion.fn} anomalies missed, ${e.confusion.tn} normal rows passed.`
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
  const v = Number(x.toPrecision(3));
  $("value").value = String(v);
  moveThreshold(chart, v);
  changed();
}

async function revisions() {
  const list = await api(`${base}/thresholds`);
  $("revisions").querySelector("tbody").replaceChildren(...[...list.items].reverse().map((r, i) => h("tr", { class: i === 0 ? "selected" : null },
    h("td", {}, when(r.created_at)),
    h("td", { class: "num" }, sig3(r.value)),
    h("td", {}, r.strategy),
    h("td", {}, Object.entries(r.inputs).map(([k, v]) => `${k}: ${typeof v === "number" ? num(v) : v}`).join(", ")),
    h("td", {}, r.actor || "–"),
    h("td", {}, r.note || ""))));
}

const TARGETS = {
  contamination: ["contamination", "share of training rows, e.g. 0.02"],
  fpr: ["target", "largest false-positive rate, e.g. 0.01"],
  "feedback-precision": ["target_precision", "precision of the alarms, e.g. 0.9"],
  "feedback-false-alarms": ["target_false_alarm_rate", "share of confirmed normal rows flagged, e.g. 0.05"],
};

/** The request body of the chosen strategy (the editor's two feedback entries are one strategy). */
function strategyBody() {
  const chosen = $("strategy").value;
  const body = { strategy: chosen.startsWith("feedback") ? "feedback" : chosen };
  const note = $("note").value.trim();
  if (note) body.note = note;
  if (chosen === "value") body.value = Number($("value").value);
  if (TARGETS[chosen]) body[TARGETS[chosen][0]] = Number($("strategy-input").value);
  if (chosen === "fpr" || chosen === "best_f1") {
    body.dataset = $("dataset").value || undefined;
    if ($("label").value.trim()) body.label_column = $("label").value.trim();
    if ($("normal").value.trim()) body.normal_value = $("normal").value.trim();
  }
  return body;
}

async function propose() {
  const p = await api(`${base}/threshold/proposal`, { method: "POST", json: strategyBody() });
  $("value").value = String(Number(p.value.toPrecision(10)));
  moveThreshold(chart, p.value);
  const fb = (f) => (f.feedback ? `precision ${num(f.feedback.precision, 3)}, recall ${num(f.feedback.recall, 3)} on ${num(f.feedback.labelled)} labelled rows` : "no labelled rows");
  const trained = (f) => (f.training_alarm_rate === null ? "" : `, ${pct(f.training_alarm_rate)} of the training rows flagged`);
  $("proposal").textContent = `${p.strategy} would set ${sig3(p.value)}: ${fb(p.proposed)}${trained(p.proposed)} ` +
    `(now, at ${sig3(p.current.threshold)}: ${fb(p.current)}${trained(p.current)}). Save it to put it in force.`;
  await preview();
}

async function save() {
  const revision = await api(`${base}/threshold`, { method: "PUT", json: strategyBody() });
  $("saved").textContent = `Saved: threshold ${sig3(revision.value)} (${revision.strategy}) is in force for scoring now.`;
  $("value").value = String(revision.value);
  $("current").textContent = `in force: ${sig3(revision.value)}`;
  await Promise.all([drawHistogram(), preview(), revisions()]);
}

guarded(async () => {
  const [m, v, datasets] = await Promise.all([api(`/models/${encodeURIComponent(model)}`), api(base), api("/datasets?limit=500")]);
  $("dataset").replaceChildren(h("option", { value: "" }, "(training rows only)"),
    ...datasets.items.map((d) => h("option", { value: d.id, selected: d.id === m.eval_dataset }, d.name)));
  if (m.eval_dataset && m.label_column) $("label").value = m.label_column;
  if (m.normal_value !== null && m.normal_value !== undefined) $("normal").value = String(m.normal_value);
  const current = v.threshold ? v.threshold.value : null;
  $("value").value = current === null ? "" : String(Number(current.toPrecision(3)));
  $("current").textContent = current === null ? "" : `in force: ${sig3(current)}`;
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
  const target = TARGETS[$("strategy").value];
  $("strategy-input").hidden = !target;
  $("strategy-input").placeholder = target ? target[1] : "";
  $("propose").hidden = $("strategy").value === "value";
  $("proposal").textContent = "";
});
$("propose").addEventListener("click", () => guarded(propose));
$("save").addEventListener("submit", (e) => { e.preventDefault(); guarded(save); });
