// Panels: the version's traffic against its training data (drift per column as bars, the anomaly
// rate over the window against what the threshold expects), and operator feedback: its figures,
// and the recent alarms from the scoring log, each labelled anomaly or normal with one click.
import { api, guarded, h, num, pageData, pct, sig3, when } from "../api.js";
import { driftChart, emptyChart, rateChart } from "../charts.js";

const { model, version } = pageData();
const base = `/models/${encodeURIComponent(model)}`;
const $ = (id) => document.getElementById(id);
const VERDICT_CLASS = { stable: "ok", watch: "run", drifted: "bad", no_data: "" };

function verdict(name) {
  return h("span", { class: `badge ${VERDICT_CLASS[name] ?? ""}` }, name ? name.replace("_", " ") : "–");
}

async function drift() {
  const span = $("drift-window").value;
  const report = await api(`${base}/versions/${version}/drift?window=${encodeURIComponent(span)}`);
  const badge = $("drift-verdict");
  badge.className = `badge ${VERDICT_CLASS[report.verdict] ?? ""}`;
  badge.textContent = report.verdict.replace("_", " ");
  const rate = report.anomaly_rate;
  $("rate-observed").textContent = rate.observed === null ? "–" : `${pct(rate.observed)} (${num(rate.anomalies)} of ${num(rate.rows)})`;
  $("rate-expected").textContent = pct(rate.expected);
  $("rate-verdict").replaceChildren(verdict(rate.verdict));
  $("score-verdict").replaceChildren(verdict(report.scores.verdict));
  $("drift-note").textContent = report.rows
    ? `${num(report.rows)} rows scored by version ${version} from ${when(report.window.since)} to ${when(report.window.until)}; ` +
      `${num(report.sampled_rows)} with their values compared with the training profile, column by column, most drifted first. ` +
      `PSI from ${report.limits.psi[0]} is watch and from ${report.limits.psi[1]} drifted; KS from ${report.limits.ks[0]} and ${report.limits.ks[1]}.`
    : `Version ${version} scored no row in this window: nothing to compare.`;
  if (report.rows) {
    await driftChart($("drift-chart"), report.columns, report.limits.psi);
    await rateChart($("rate-chart"), rate.series, rate.expected);
  } else {
    $("drift-chart").style.height = "";
    emptyChart($("drift-chart"), "no traffic in this window");
    emptyChart($("rate-chart"), "no traffic in this window");
  }
  $("drift-columns").querySelector("tbody").replaceChildren(...report.columns.map((c) => h("tr", { dataset: { column: c.column } },
    h("td", {}, c.column), h("td", {}, c.kind),
    h("td", { class: "num" }, num(c.psi, 3)),
    h("td", { class: "num" }, c.kind === "numeric" ? num(c.ks, 3) : "–"),
    h("td", { class: "num" }, c.kind === "categorical" ? pct(c.unseen_share) : "–"),
    h("td", { class: "num" }, pct(c.missing_share)),
    h("td", {}, verdict(c.verdict)))));
}

async function figures() {
  const [served, judged] = await Promise.all([api(`${base}/feedback?limit=1`), api(`${base}/feedback?limit=1&version=${version}`)]);
  $("fb-labelled").textContent = num(served.labelled);
  $("fb-precision").textContent = served.precision === null ? "–" : num(served.precision, 3);
  $("fb-recall").textContent = served.recall === null ? "–" : num(served.recall, 3);
  $("fb-confirmed").textContent = num(served.confirmed_anomalies);
  $("fb-false").textContent = num(served.false_alarms);
  $("feedback-note").textContent = served.labelled
    ? `As served: the verdicts the labelled rows got when scored. Judged by version ${version} at its threshold ` +
      `${sig3(judged.threshold)}: precision ${judged.precision === null ? "–" : num(judged.precision, 3)}, ` +
      `recall ${judged.recall === null ? "–" : num(judged.recall, 3)} on ${num(judged.labelled)} rows` +
      `${judged.unscored ? ` (${judged.unscored} without values it could score)` : ""}. ` +
      "The threshold editor's feedback strategy recalibrates from them."
    : "No row is labelled yet: label the alarms below as anomaly or normal.";
}

async function label(id, kind, row) {
  await api(`${base}/feedback`, { method: "POST", json: { items: [{ id, label: kind }] } });
  row.querySelector("td:last-child").replaceChildren(h("span", { class: `badge ${kind === "anomaly" ? "bad" : "ok"}` }, kind));
  await figures();
}

async function alarms() {
  const [page, labels] = await Promise.all([
    api(`${base}/scores?anomalies_only=true&version=${version}&limit=20`),
    api(`${base}/feedback?limit=1000`),
  ]);
  const known = new Map(labels.items.filter((f) => f.log_id !== null).map((f) => [f.log_id, f.label]));
  $("alarms").querySelector("tbody").replaceChildren(...page.items.map((a) => {
    const row = h("tr", { dataset: { log: a.id } },
      h("td", {}, when(a.time)),
      h("td", { class: "num anomaly" }, sig3(a.score)),
      h("td", {}, a.contributions.map((c) => h("span", { class: "top-col" }, h("b", {}, c.column), ` ${pct(c.share)}`))),
      h("td", {}));
    const done = known.get(a.id);
    row.querySelector("td:last-child").replaceChildren(done
      ? h("span", { class: `badge ${done === "anomaly" ? "bad" : "ok"}` }, done)
      : h("span", {},
        h("button", { class: "secondary label-anomaly", onclick: () => guarded(() => label(a.id, "anomaly", row)) }, "anomaly"), " ",
        h("button", { class: "secondary label-normal", onclick: () => guarded(() => label(a.id, "normal", row)) }, "normal")));
    return row;
  }));
  if (!page.items.length) $("alarms").querySelector("tbody").replaceChildren(h("tr", {}, h("td", { colspan: 4, class: "note" }, "No alarm of this version in the log.")));
}

guarded(() => Promise.all([drift(), figures(), alarms()]));
$("drift-window").addEventListener("change", () => guarded(drift));
