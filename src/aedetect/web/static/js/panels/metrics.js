// Panel: the autoencoder's metrics beside the IsolationForest baseline fitted on the same rows,
// from the training-time evaluation or from evaluating on any labelled dataset here.
import { api, cached, guarded, h, num, pageData, sig3 } from "../api.js";

const { model, version } = pageData();
const ROWS = [
  ["ROC-AUC", (m) => m.roc_auc],
  ["Average precision", (m) => m.average_precision],
  ["Precision at the threshold", (m) => m.precision],
  ["Recall at the threshold", (m) => m.recall],
  ["F1 at the threshold", (m) => m.f1],
  ["Threshold", (m) => m.threshold, sig3],
  ["Flagged anomalies (TP)", (m) => m.confusion?.tp],
  ["False alarms (FP)", (m) => m.confusion?.fp],
  ["Missed anomalies (FN)", (m) => m.confusion?.fn],
  ["Passed normal rows (TN)", (m) => m.confusion?.tn],
];

function render(result, where) {
  const base = result.baseline || {};
  const shown = (value, format) => (format ? format(value) : num(value, 3));
  document.querySelector("#metrics tbody").replaceChildren(...ROWS.map(([label, get, format]) =>
    h("tr", {}, h("th", {}, label), h("td", { class: "num" }, shown(get(result), format)), h("td", { class: "num" }, shown(get(base), format)))));
  document.getElementById("metrics-note").textContent =
    `${where}: ${num(result.rows)} rows, ${num(result.anomalies)} known anomalies.` +
    (result.baseline_unavailable ? ` No baseline: ${result.baseline_unavailable}` : "");
}

guarded(async () => {
  const [v, m, datasets] = await Promise.all([
    cached(`/models/${encodeURIComponent(model)}/versions/${version}`),
    cached(`/models/${encodeURIComponent(model)}`),
    api("/datasets?limit=500"),
  ]);
  const select = document.getElementById("evaluate-dataset");
  select.replaceChildren(...datasets.items.map((d) => h("option", { value: d.id, selected: d.id === m.eval_dataset }, d.name)));
  if (m.label_column) document.getElementById("evaluate-label").value = m.label_column;
  if (m.normal_value !== null && m.normal_value !== undefined) document.getElementById("evaluate-normal").value = String(m.normal_value);
  if (v.metrics.evaluation) render(v.metrics.evaluation, "At training, on the evaluation data");
  else document.getElementById("metrics-note").textContent = "This version was trained without labelled evaluation data: evaluate it on a labelled dataset below.";
});

document.getElementById("evaluate").addEventListener("submit", (e) => {
  e.preventDefault();
  guarded(async () => {
    const body = { dataset: document.getElementById("evaluate-dataset").value, label_column: document.getElementById("evaluate-label").value.trim() };
    const normal = document.getElementById("evaluate-normal").value.trim();
    if (normal) body.normal_value = normal;
    const result = await api(`/models/${encodeURIComponent(model)}/versions/${version}/evaluate`, { method: "POST", json: body });
    render(result, `Evaluated now on ${document.getElementById("evaluate-dataset").selectedOptions[0]?.textContent || result.dataset} by ${result.label_column}`);
  });
});
