// Panel: every version with its aliases; promote one to production (pointing production back at
// an older version is the rollback); every alias move with who, when and why.
import { api, cached, guarded, h, num, pageData, sig3, when } from "../api.js";

const { model, version } = pageData();
const base = `/models/${encodeURIComponent(model)}`;

async function promote(number) {
  const note = window.prompt(`Why does production move to version ${number}?`, "") ;
  if (note === null) return;
  await api(`${base}/aliases/production`, { method: "PUT", json: { version: number, note: note || undefined } });
  location.reload();
}

guarded(async () => {
  const [versions, aliases] = await Promise.all([cached(`${base}/versions`), api(`${base}/aliases`)]);
  const production = aliases.items.find((a) => a.alias === "production")?.version;
  document.querySelector("#versions tbody").replaceChildren(...[...versions.items].reverse().map((v) => {
    const action = v.version === production
      ? null
      : h("button", { class: "secondary", onclick: () => guarded(() => promote(v.version)) },
        production && v.version < production ? "Roll back to this" : "Promote to production");
    return h("tr", { class: v.version === version ? "selected" : null, dataset: { version: v.version } },
      h("td", {}, h("a", { href: `${base}/versions/${v.version}` }, `v${v.version}`)),
      h("td", {}, v.aliases.map((a) => h("span", { class: "badge alias" }, a))),
      h("td", {}, when(v.finished_at)),
      h("td", { class: "num" }, num(v.rows)),
      h("td", { class: "num" }, num(v.metrics.epochs)),
      h("td", { class: "num" }, v.threshold ? sig3(v.threshold.value) : "–"),
      h("td", { class: "num" }, num(v.metrics.evaluation?.roc_auc ?? v.metrics.roc_auc, 3)),
      h("td", {}, action));
  }));
  const moves = aliases.items.flatMap((a) => a.history).sort((x, y) => String(y.moved_at).localeCompare(String(x.moved_at)));
  document.querySelector("#alias-moves tbody").replaceChildren(...moves.map((m) => h("tr", {},
    h("td", {}, when(m.moved_at)), h("td", {}, m.alias),
    h("td", {}, m.from_version ? `v${m.from_version}` : "–"), h("td", {}, m.to_version ? `v${m.to_version}` : "removed"),
    h("td", {}, m.actor || "–"), h("td", {}, m.note || ""))));
});
