// Page 5: score a file. The file is uploaded as a dataset (with progress) and scored by a job
// (progress from its events); the most anomalous rows come back with every column's part of
// their score, and the scored CSV downloads from the job's result.
import { api, followJob, guarded, h, num, pageData, pct, progressBar, sig3, uploadDataset, value } from "./api.js";
import { contributionChart } from "./charts.js";

const { model } = pageData();
const $ = (id) => document.getElementById(id);
const SHOWN_ROWS = 200;
const TOP = 3;

function topColumns(row) {
  return row.contributions.slice(0, TOP).map((c) => h("span", { class: "top-col", title: `${pct(c.share)} of the score` },
    h("b", {}, c.column), ": ", value(c.value), sameValue(c) ? " (as expected)" : ` → ${value(c.expected)}`));
}

/** Whether the value sent is the value expected (a category the model reconstructs as sent). */
function sameValue(c) {
  return value(c.value) === value(c.expected);
}

function showDetail(row, tr) {
  for (const other of document.querySelectorAll("#rows tr.selected")) other.classList.remove("selected");
  tr.classList.add("selected");
  $("detail").hidden = false;
  $("detail-title").textContent = `Row ${row.row}: score ${sig3(row.score)} ${row.is_anomaly ? "(anomaly)" : "(normal)"}`;
  contributionChart($("contribution-chart"), row.contributions);
  $("detail-values").querySelector("tbody").replaceChildren(...row.contributions.map((c) => h("tr", {},
    h("td", {}, c.column), h("td", {}, value(c.value)), h("td", {}, value(c.expected)), h("td", { class: "num" }, pct(c.share)))));
}

async function score(file) {
  const up = progressBar($("upload"));
  up.hidden = false;
  const dataset = await uploadDataset(file, (f) => up.set(f, f < 1 ? `uploading ${file.name}: ${pct(f)}` : "reading the file"));
  up.set(1, `uploaded ${dataset.name}: ${num(dataset.rows)} rows`);
  const version = $("version").value;
  const job = await api(`/models/${encodeURIComponent(model)}/score${version ? `?version=${version}` : ""}`, {
    method: "POST", json: { dataset: dataset.id, top: TOP },
  });
  const bar = progressBar($("scoring"));
  bar.hidden = false;
  const update = (j) => {
    const p = j.progress || {};
    const total = p.rows_total || dataset.rows;
    bar.set(j.status === "succeeded" ? 1 : (p.rows_done || 0) / (total || 1),
      j.status === "succeeded" ? `scored ${num(j.result?.rows ?? total)} rows` : `${j.status}: ${num(p.rows_done || 0)} of ${num(total)} rows`);
  };
  update(job);
  const done = await followJob(job.id, update);
  if (done.status !== "succeeded") throw new Error(`scoring ${done.status}: ${done.error || ""}`);
  const rows = await api(`/jobs/${encodeURIComponent(done.id)}/rows?limit=${SHOWN_ROWS}`);
  $("result").hidden = false;
  $("result-title").textContent = `${num(rows.anomalies)} anomalies in ${num(rows.rows)} rows (${pct(rows.anomalies / (rows.rows || 1))})`;
  $("result-note").textContent = `Scored by version ${rows.version} at threshold ${sig3(rows.threshold)}. ` +
    (rows.rows > rows.items.length ? `The ${rows.items.length} highest-scoring rows are shown; the download has every row.` : "Every row is shown, highest score first.") +
    " Click a row for every column's part of its score.";
  $("download").href = done.result_url;
  $("rows").querySelector("tbody").replaceChildren(...rows.items.map((row) => {
    const tr = h("tr", { class: "clickable", dataset: { row: row.row } },
      h("td", { class: "num" }, row.row),
      h("td", { class: "num" }, sig3(row.score)),
      h("td", {}, row.is_anomaly ? h("span", { class: "anomaly" }, "anomaly") : "normal"),
      h("td", {}, topColumns(row)));
    tr.addEventListener("click", () => showDetail(row, tr));
    return tr;
  }));
}

guarded(async () => {
  const [m, versions] = await Promise.all([api(`/models/${encodeURIComponent(model)}`), api(`/models/${encodeURIComponent(model)}/versions`)]);
  const production = m.aliases.production;
  $("version").replaceChildren(...[...versions.items].reverse().map((v) =>
    h("option", { value: v.version, selected: v.version === production }, `v${v.version}${v.aliases.length ? ` (${v.aliases.join(", ")})` : ""}`)));
});

$("file").addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (file) guarded(() => score(file));
});
