// What the New model page checks before it sends anything: which columns cannot be features
// (and why), a model name made from a file name, and every parameter against the rules the API
// applies (the page is rendered with them), each error in the user's words, all at once.

const TIMESTAMP = /^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$|^\d{1,2}[./]\d{1,2}[./]\d{2,4}( \d{1,2}:\d{2}(:\d{2})?)?$|^\d{1,2}:\d{2}(:\d{2})?$/;

/** Why a column of `dataset` cannot be a feature ("" when it can). */
export function notFeature(column, dataset, label) {
  if (label && column.name === label) return "the label column chosen for evaluation";
  const present = Math.round(dataset.rows * (1 - (column.missing_share || 0)));
  if (present === 0) return "every value is missing";
  if (column.distinct <= 1) return "the same value in every row";
  const examples = column.examples.filter((v) => v !== null && v !== undefined);
  if (examples.length && examples.every((v) => typeof v === "string" && TIMESTAMP.test(v.trim()))) return "a date or time, not a measurement";
  const allDistinct = present >= 20 && column.distinct >= 0.99 * present;
  const whole = examples.every((v) => typeof v === "string" || Number.isInteger(v));
  if (allDistinct && whole) return "a different value in every row (an id)";
  return "";
}

/** A model name from a file name: `KDDTrain+.csv` -> `kddtrain`, `Line 7 (May).csv` -> `line-7-may`. */
export function modelName(fileName) {
  const stem = fileName.replace(/\.[^.]*$/, "").toLowerCase();
  const name = stem.replace(/[^a-z0-9_-]+/g, "-").replace(/^[-_]+|[-_]+$/g, "").replace(/-{2,}/g, "-").slice(0, 50).replace(/[-_]+$/, "");
  return name || "model";
}

export const NAME_RULE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$/;

function rangeWords(rule) {
  const [lowIn, highIn] = rule.closed;
  const low = rule.low === null ? null : `${lowIn ? "at least" : "more than"} ${rule.low}`;
  const high = rule.high === null ? null : `${highIn ? "at most" : "less than"} ${rule.high}`;
  return [low, high].filter(Boolean).join(" and ");
}

/** The value typed into a parameter's field, or an error in words: [value, error]. */
export function readParameter(field, text) {
  const { label, rule } = field;
  if (rule.kind === "widths") {
    const parts = text.split(",").map((p) => p.trim());
    if (parts.some((p) => !/^\d+$/.test(p))) return [null, `${label}: write numbers separated by commas, e.g. 64, 16`];
    const widths = parts.map(Number);
    if (widths.some((w) => w < 1 || w > rule.high)) return [null, `${label}: each size must be from 1 to ${rule.high.toLocaleString("en-US")}`];
    return [widths, ""];
  }
  if (rule.kind === "choice") {
    return rule.choices.includes(text) ? [text, ""] : [null, `${label}: choose one of ${rule.choices.join(", ")}`];
  }
  if (rule.kind === "text") return [text, ""];
  const number = Number(text.replace(/,(?=\d{3}\b)/g, ""));
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text.replace(/,(?=\d{3}\b)/g, "")) || !Number.isFinite(number)) {
    return [null, `${label}: write a number, e.g. ${field.placeholder === "auto" ? "1" : field.placeholder}`];
  }
  if (rule.kind === "int" || rule.kind === "seed") {
    const least = rule.kind === "seed" ? 0 : 1;
    if (!Number.isInteger(number) || number < least || (rule.high !== null && number > rule.high)) {
      return [null, `${label}: write a whole number ${rule.high !== null ? `from ${least} to ${rule.high}` : `of ${least} or more`}`];
    }
    return [number, ""];
  }
  const [lowIn, highIn] = rule.closed;
  const okLow = rule.low === null || (lowIn ? number >= rule.low : number > rule.low);
  const okHigh = rule.high === null || (highIn ? number <= rule.high : number < rule.high);
  return okLow && okHigh ? [number, ""] : [null, `${label}: must be ${rangeWords(rule)}`];
}

/** A server error about a parameter in the page's words: its label instead of its API name,
 * no Python value ("got [None, 16]") and no route. */
export function inWords(detail, fields) {
  let text = String(detail || "").replace(/,? got .*$/s, "");
  for (const f of fields) text = text.replace(new RegExp(`\\b${f.name}\\b`, "g"), f.label);
  return text.replace(/\b(GET|POST|PUT|PATCH|DELETE) \/api\/\S+/g, "the dashboard");
}
