// Panel: the parameters after defaults, what the version was trained on, and its schema.
import { api, cached, guarded, h, num, pageData, when } from "../api.js";

const { model, version } = pageData();

function shown(v) {
  if (Array.isArray(v)) return v.join(", ");
  if (v === null || v === undefined) return "–";
  return typeof v === "number" ? num(v, 6) : String(v);
}

const kv = (rows) => rows.map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v)));

guarded(async () => {
  const v = await cached(`/models/${encodeURIComponent(model)}/versions/${version}`);
  // the dataset's file name (its id says nothing to a person); the id when it is gone
  const dataset = v.dataset ? await api(`/datasets/${encodeURIComponent(v.dataset)}`).then((d) => d.name, () => v.dataset) : null;
  const params = Object.entries(v.params).filter(([k]) => k !== "columns" && k !== "categorical");
  document.querySelector("#params tbody").replaceChildren(...kv(params.map(([k, val]) => [k, shown(val)])));
  document.querySelector("#trained-on tbody").replaceChildren(...kv([
    ["Dataset", dataset || "v1 node files"],
    ["Rows", num(v.rows)],
    ["Training time", `${num(v.training_time_s, 3)} s`],
    ["Queued", when(v.created_at)],
    ["Finished", when(v.finished_at)],
    ["Training job", v.job_id || "–"],
    ["v1 model id", v.run_id],
  ]));
  document.querySelector("#schema tbody").replaceChildren(...v.columns.map((c) => h("tr", {}, h("td", {}, c.name), h("td", {}, c.kind))));
});
