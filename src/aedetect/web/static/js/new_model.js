// Page 2: upload a CSV (with progress), see its columns, pick them, optionally an evaluation
// file and its label column, set parameters, train, and watch the loss curve grow epoch by epoch
// from the job's event stream (with cancel).
import { ApiError, api, followJob, guarded, h, num, pageData, pct, progressBar, showProblem, trainingProgress, uploadDataset, value } from "./api.js";
import { lossChart } from "./charts.js";
import { NAME_RULE, inWords, modelName, notFeature, readParameter } from "./checks.js";

const FIELDS = pageData().params || [];
const state = { train: null, eval: null, job: null, ticked: new Map() };
const $ = (id) => document.getElementById(id);

async function upload(input, barId, summaryId) {
  const file = input.files[0];
  if (!file) return null;
  const bar = progressBar($(barId));
  bar.hidden = false;
  bar.set(0, `uploading ${file.name}`);
  const dataset = await uploadDataset(file, (f) => bar.set(f, f < 1 ? `uploading ${file.name}: ${pct(f)}` : "reading the file"));
  bar.set(1, `uploaded ${dataset.name}`);
  $(summaryId).textContent = `${dataset.name}: ${num(dataset.rows)} rows, ${dataset.columns.length} columns${readAs(dataset.format)}`;
  return dataset;
}

// How the server read the file, in words: a workbook's sheet, or a CSV's separator and decimal mark.
function readAs(format) {
  if (!format) return "";
  if (format.kind !== "csv") return ` (Excel workbook, sheet "${format.sheet}")`;
  const separator = { ",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe" }[format.delimiter] || `"${format.delimiter}"`;
  return ` (CSV, ${separator}-separated${format.decimal === "," ? ", decimal comma" : ""})`;
}

// The user's own ticks (by column) survive a re-render; the rest start from notFeature().
function renderColumns() {
  const body = document.querySelector("#columns tbody");
  const label = $("label-column").value;
  const before = new Map([...body.querySelectorAll("tr")].map((r) => [r.dataset.column, Boolean(r.querySelector(".categorical")?.checked)]));
  body.replaceChildren(...state.train.columns.map((c) => {
    const reason = notFeature(c, state.train, label);
    const isLabel = Boolean(label) && c.name === label;
    const use = isLabel ? false : state.ticked.has(c.name) ? state.ticked.get(c.name) : !reason;
    const box = h("input", { type: "checkbox", class: "use", checked: use, disabled: isLabel, "aria-label": `use ${c.name}` });
    box.addEventListener("change", () => state.ticked.set(c.name, box.checked));
    return h("tr", { dataset: { column: c.name }, class: reason ? "left-out" : null },
      h("td", {}, box),
      h("td", {}, c.name, isLabel ? h("span", { class: "badge" }, "label") : null),
      h("td", {}, c.kind),
      h("td", { class: "num" }, pct(c.missing_share)),
      h("td", { class: "num" }, num(c.distinct)),
      h("td", {}, c.examples.map(value).join(", ")),
      h("td", {}, c.kind === "numeric" ? h("input", { type: "checkbox", class: "categorical", checked: before.get(c.name) || false, "aria-label": `${c.name} is categorical` }) : "always"),
      h("td", { class: "reason note" }, reason),
    );
  }));
}

function renderLabelChoices() {
  const source = state.eval || state.train;
  const select = $("label-column");
  const chosen = select.value;
  select.replaceChildren(h("option", { value: "" }, "(none)"), ...source.columns.map((c) => h("option", { value: c.name, selected: c.name === chosen }, c.name)));
}

/** Every parameter typed, or the errors of every field at once (each shown under its field). */
function params() {
  const out = {};
  const errors = [];
  for (const input of document.querySelectorAll("#params input")) {
    const field = FIELDS.find((f) => f.name === input.name);
    const text = input.value.trim();
    const [read, error] = text && field ? readParameter(field, text) : [text, ""];
    fieldError(input, error);
    if (error) errors.push(error);
    else if (text) out[input.name] = read;
  }
  return [out, errors];
}

function fieldError(input, error) {
  const box = input.parentElement.querySelector(".field-error");
  box.textContent = error;
  box.hidden = !error;
  input.setAttribute("aria-invalid", error ? "true" : "false");
}

function modelBody() {
  const rows = [...document.querySelectorAll("#columns tbody tr")];
  const columns = rows.filter((r) => r.querySelector(".use").checked).map((r) => r.dataset.column);
  const categorical = rows.filter((r) => r.querySelector(".categorical")?.checked && r.querySelector(".use").checked).map((r) => r.dataset.column);
  const [typed, errors] = params();
  const name = $("model-name").value.trim();
  const nameError = NAME_RULE.test(name) ? "" : "name: use 1 to 50 letters, digits, '-' or '_', starting with a letter or digit";
  fieldError($("model-name"), nameError);
  if (nameError) errors.unshift(nameError);
  if (!columns.length) errors.unshift("columns: tick at least one column to model");
  if (errors.length) throw new Error(errors.join("\n"));
  const body = { name, dataset: state.train.id, columns, params: typed };
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
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const input = err.problem.field && document.querySelector(`#params input[name="${CSS.escape(err.problem.field)}"]`);
    const words = inWords(err.problem.detail, FIELDS);
    if (input) fieldError(input, words);
    err.problem.detail = words;
    if (input) err.problem.field = undefined; // said in words, and shown at its field
    throw err;
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
  state.ticked.clear();
  renderLabelChoices();
  renderColumns();
  for (const id of ["step-columns", "step-eval", "step-params"]) $(id).hidden = false;
  if (!$("model-name").value) $("model-name").value = modelName(state.train.name);
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
