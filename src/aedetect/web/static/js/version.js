// Page 3's header: the version's aliases and a one-line summary. The panels below draw themselves
// (js/panels/*.js), reading the same API answers once (cached).
import { cached, guarded, h, num, pageData, sig3, when } from "./api.js";

const { model, version } = pageData();
export const versionPath = `/models/${encodeURIComponent(model)}/versions/${version}`;

guarded(async () => {
  const v = await cached(versionPath);
  document.getElementById("aliases").replaceChildren(...v.aliases.map((a) => h("span", { class: "badge alias" }, a)));
  const t = v.threshold;
  document.getElementById("summary").textContent =
    `Trained ${when(v.finished_at)} on ${num(v.rows)} rows in ${num(v.training_time_s, 3)} s; ` +
    `threshold ${t ? sig3(t.value) : "–"}${t ? ` (${t.strategy})` : ""}.`;
});
