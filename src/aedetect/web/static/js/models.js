// Page 1: every model with its production version, status (a live progress bar while it
// trains), when it last trained, and the rows it scored recently: the scoring log's counts,
// which the page comes with (one query for all models), plus the files its scoring jobs scored.
import { api, followJob, guarded, h, num, pageData, pct, progressBar, trainingProgress, when } from "./api.js";

const { scored: logged, since: scoredSince } = pageData();

async function allModels() {
  const items = [];
  let cursor = null;
  do {
    const page = await api(`/models?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next;
  } while (cursor);
  return items;
}

// Jobs newest first, page by page, until they are older than the recent-scoring window (the
// scoring jobs' files count there; at most 20 pages of 500, so a busy server's page stays quick).
async function recentJobs(since) {
  const items = [];
  let cursor = null;
  for (let pages = 0; pages < 20; pages++) {
    const page = await api(`/jobs?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next;
    const oldest = page.items[page.items.length - 1];
    if (!cursor || !oldest || new Date(oldest.created_at).getTime() < since) break;
  }
  return items;
}

// The model's newest training (from the model record, so it shows however many jobs came after it)
// in the shape of a job.
function lastTraining(model) {
  const t = model.last_training;
  return t && { id: t.job, status: t.status, version: t.version, error: t.error, progress: {} };
}

function statusCell(model, train) {
  const cell = h("td", { class: "status" });
  if (train && (train.status === "queued" || train.status === "running")) {
    const bar = progressBar();
    cell.append(bar);
    const update = (job) => {
      const [fraction, label] = trainingProgress(job);
      bar.set(fraction, label);
    };
    update(train);
    followJob(train.id, update).then((job) => {
      if (job && job.status === "succeeded") setTimeout(() => location.reload(), 500);
      else if (job) cell.replaceChildren(...failure(job));
    }).catch((err) => cell.replaceChildren(h("span", { class: "badge bad" }, "unknown"), " ", err.message));
    return cell;
  }
  if (train && (train.status === "failed" || train.status === "cancelled")) {
    cell.append(...failure(train));
    if (model.latest_version) cell.append(h("div", { class: "note" }, `version ${model.latest_version} keeps serving`));
    return cell;
  }
  cell.append(model.latest_version ? h("span", { class: "badge ok" }, "ready") : h("span", { class: "badge" }, "not trained"));
  return cell;
}

function failure(job) {
  return [h("span", { class: "badge bad" }, job.status), " ", h("span", { class: "reason" }, job.error || "")];
}

function recentScoring(model, jobs, since) {
  let { rows, anomalies } = logged[model.name] || { rows: 0, anomalies: 0 };
  for (const job of jobs) {
    if (job.kind !== "score" || job.status !== "succeeded" || !job.result) continue;
    if (new Date(job.finished_at || job.created_at).getTime() < since) continue;
    rows += job.result.rows || 0;
    anomalies += job.result.anomalies || 0;
  }
  return { rows, anomalies };
}

async function render() {
  const since = new Date(scoredSince).getTime();
  const [models, jobs] = await Promise.all([allModels(), recentJobs(since)]);
  const body = document.querySelector("#models tbody");
  body.replaceChildren();
  document.getElementById("empty").hidden = models.length > 0;
  document.getElementById("models").hidden = !models.length;
  document.getElementById("scored-window").hidden = !models.length;
  for (const model of models) {
    const own = jobs.filter((j) => j.model === model.name);
    const train = lastTraining(model);
    const production = model.aliases.production;
    const scored = recentScoring(model, own, since);
    const link = production || model.latest_version;
    body.append(h("tr", { dataset: { model: model.name } },
      h("td", {}, link ? h("a", { href: `/models/${encodeURIComponent(model.name)}/versions/${link}` }, model.name) : model.name,
        model.description ? h("div", { class: "note" }, model.description) : null),
      h("td", { class: "num" }, production ? `v${production}` : "–"),
      statusCell(model, train),
      h("td", {}, model.last_trained_at ? when(model.last_trained_at) : "–"),
      h("td", { class: "num" }, scored.rows ? num(scored.rows) : "–"),
      h("td", { class: "num" }, scored.rows ? pct(scored.anomalies / scored.rows) : "–"),
      h("td", {}, model.latest_version ? h("a", { href: `/models/${encodeURIComponent(model.name)}/score` }, "score a file") : null),
    ));
  }
}

guarded(render);
