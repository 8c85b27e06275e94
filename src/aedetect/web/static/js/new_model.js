// Page 2: upload a CSV (with progress), see its columns, pick them, optionally an evaluation
// file and its label column, set parameters, train, and watch the loss curve grow epoch by epoch
// from the job's event stream (with cancel).
import { api, followJob, guarded, h, num, pct, progressBar, showProblem, trainingProgress, uploadDataset, value } from "./api.js";
import { lossChart } from "./charts.js";

const state = { train: null, eval: null, job: null };
const $ = (id) => document.getElementById(id);

async function upload(input, barId, summaryId) {
  const file = input.files[0];
  if (!file) return null;
  const bar = progressBar($(barId));
  bar.hidden = false;
  bar.set(0, `uploading ${file.name}`);
  const dataset = await uploadDataset(file, (f) => bar.set(f, f < 1 ? `uploading ${file.name}: ${pct(f)}` : "reading the file"));
  bar.set(1, `uploaded ${dataset.name}`);
  $(summaryId).textContent = `${dataset.name}: ${num(dataset.rows)} rows, ${dataset.columns.length} columns (dataset ${dataset.id})`;
  return dataset;
}

function renderColumns() {
  const body = document.querySelector("#columns tbody");
  const label = $("label-column").value;
  const labelInTraining = !state.eval && label;
  const before = new Map([...body.querySelectorAll("tr")].map((r) => [r.dataset.column, {
    use: r.querySelector(".use").checked, categorical: Boolean(r.querySelector(".categorical")?.checked),
  }]));
  body.replaceChildren(...state.train.columns.map((c) => {
    const isLabel = labelInTraining && c.name === label;
    const chosen = before.get(c.name) || { use: true, categorical: false };
    return h("tr", { dataset: { column: c.name } },
      h("td", {}, h("input", { type: "checkbox", class: "use", checked: chosen.use && !isLabel, disabled: isLabel, "aria-label": `use ${c.name}` })),
      h("td", {}, c.name, isLabel ? h("span", { class: "badge" }, "label") : null),
      h("td", {}, c.kind),
      h("td", { class: "num" }, pct(c.missing_share)),
      h("td", { class: "num" }, num(c.distinct)),
      h("td", {}, c.examples.map(value).join(", ")),
      h("td", {}, c.kind === "numeric" ? h("input", { type: "checkbox", class: "categorical", checked: chosen.categorical, "aria-label": `${c.name} is categorical` }) : "always"),
    );
  }));
}

function renderLabelChoices() {
  const source = state.eval || state.train;
  const select = $("label-column");
  const chosen = select.value;
  select.replaceChildren(h("option", { value: "" }, "(none)"), ...source.columns.map((c) => h("option", { value: c.name, selected: c.name === chosen }, c.name)));
}

function params() {
  const out = {};
  for (const input of document.querySelectorAll("#params input")) {
    const text = input.value.trim();
    if (!text) continue;
    if (input.dataset.type === "list") out[input.name] = text.split(/[\s,]+/).filter(Boolean).map(Number);
    else if (input.dataset.type === "number") out[input.name] = Number(text);
    else out[input.name] = text;
  }
  return out;
}

function modelBody() {
  const rows = [...document.querySelectorAll("#columns tbody tr")];
  const columns = rows.filter((r) => r.querySelector(".use").checked).map((r) => r.dataset.column);
  const categorical = rows.filter((r) => r.querySelector(".categorical")?.checked && r.querySelector(".use").checked).map((r) => r.dataset.column);
  const body = { name: $("model-name").value.trim(), dataset: state.train.id, columns, params: params() };
  if (categorical.length) body.categorical = categorical;
  if ($("model-description").value.trim()) body.description = $("model-description").value.trim();
  if (state.eval) body.eval_dataset = state.eval.id;
  if ($("label-column").value) body.label_column = $("label-column").value;
  if ($("normal-value").value.trim()) body.normal_value = $("normal-value").value.trim();
  return body;
}

async function train() {
  const body = modelBody();
  $("train").disabled = true;
  try {
    await api("/models", { method: "POST", json: body });
    const job = await api(`/models/${encodeURIComponent(body.name)}/train`, { method: "POST" });
    watch(body.name, job);
  } finally {
    $("train").disabled = false;
  }
}

function watch(name, job) {
  state.job = job;
  $("step-train").hidden = false;
  $("step-train").scrollIntoView({ block: "start" });
  const bar = progressBar($("train-progress"));
  const chart = $("loss-chart");
  let epochs = -1;
  const update = (j) => {
    const [fraction, label] = trainingProgress(j);
    bar.set(fraction, label);
    const history = j.progress?.history;
    if (history && history.train_loss.length !== epochs) {
      epochs = history.train_loss.length;
      lossChart(chart, history);
    }
    $("train-status").textContent = j.progress?.train_loss != null ? `train loss ${num(j.progress.train_loss)}${j.progress.val_loss != null ? `, validation loss ${num(j.progress.val_loss)}` : ""}` : "";
  };
  update(job);
  $("cancel").disabled = false;
  followJob(job.id, update).then((done) => {
    $("cancel").disabled = true;
    if (done.status === "succeeded") {
      $("version-link").href = `/models/${encodeURIComponent(name)}/versions/${done.version}`;
      $("version-link").textContent = `See ${name} version ${done.version}`;
      $("train-done").hidden = false;
    } else {
      showProblem(new Error(`training ${done.status}: ${done.error || ""}`));
    }
  }).catch((err) => showProblem(err));
}

$("train-file").addEventListener("change", (e) => guarded(async () => {
  state.train = await upload(e.target, "train-upload", "train-summary");
  if (!state.train) return;
  document.querySelector("#columns tbody").replaceChildren();
  renderLabelChoices();
  renderColumns();
  for (const id of ["step-columns", "step-eval", "step-params"]) $(id).hidden = false;
  if (!$("model-name").value) $("model-name").value = state.train.name.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_-]+/g, "-").slice(0, 50) || "model";
}));
$("eval-file").addEventListener("change", (e) => guarded(async () => {
  state.eval = await upload(e.target, "eval-upload", "eval-summary");
  renderLabelChoices();
  renderColumns();
}));
$("label-column").addEventListener("change", renderColumns);
$("train").addEventListener("click", () => guarded(train));
$("cancel").addEventListener("click", () => guarded(async () => {
  $("cancel").disabled = true;
  const job = await api(`/jobs/${encodeURIComponent(state.job.id)}/cancel`, { method: "POST" });
  $("train-status").textContent = job.status === "cancelled" ? "cancelled" : "cancelling at the next epoch…";
}));
