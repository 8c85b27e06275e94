// The dashboard's one way to the native API (/api/v2): JSON calls, uploads with progress, a
// job's event stream, and problems shown in words. The browser signs in with the login cookie.

export const V2 = "/api/v2";

/** An error answer of the API: its RFC 9457 problem (detail, field, column). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** The ids the page was rendered with (model, version). */
export function pageData() {
  return JSON.parse(document.getElementById("page-data").textContent || "{}");
}

async function problemOf(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object") return body;
  } catch (_) { /* not JSON: fall through */ }
  return { detail: text.trim() || `${response.status} ${response.statusText}` };
}

/** Call the API; answers the decoded JSON (or text for CSV), throws ApiError. */
export async function api(path, { method = "GET", json, body, headers = {} } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  let response;
  try {
    response = await fetch(V2 + path, init);
  } catch (err) {
    throw new ApiError(0, { detail: `the server did not answer (${err.message}): is it running?` });
  }
  if (response.status === 401) {
    window.location.assign(`/auth/login?next=${encodeURIComponent(location.pathname + location.search)}`);
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

const pending = new Map();
/** A GET made once per page load (panels of a page share what they read). */
export function cached(path) {
  if (!pending.has(path)) pending.set(path, api(path));
  return pending.get(path);
}

/** Upload a file as a dataset (multipart field "file"), reporting progress in [0, 1]. */
export function uploadDataset(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${V2}/datasets`);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let body;
      try { body = JSON.parse(xhr.responseText); } catch (_) { body = { detail: xhr.responseText }; }
      if (xhr.status >= 200 && xhr.status < 300) { onProgress(1); resolve(body); }
      else reject(new ApiError(xhr.status, body));
    };
    xhr.onerror = () => reject(new ApiError(0, { detail: "the upload was interrupted: is the server running?" }));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);

/** Follow a job through its Server-Sent Events until it has finished; calls onUpdate(job) on
 * every change and answers the finished job. */
export function followJob(jobId, onUpdate) {
  return new Promise((resolve, reject) => {
    let last = null;
    const source = new EventSource(`${V2}/jobs/${encodeURIComponent(jobId)}/events`);
    source.addEventListener("progress", (e) => {
      last = JSON.parse(e.data);
      onUpdate(last);
    });
    source.addEventListener("end", () => {
      source.close();
      resolve(last);
    });
    source.onerror = async () => {
      source.close();
      try {
        const job = await api(`/jobs/${encodeURIComponent(jobId)}`);
        onUpdate(job);
        if (FINISHED.has(job.status)) resolve(job);
        else resolve(await followJob(jobId, onUpdate));
      } catch (err) { reject(err); }
    };
  });
}

/** A problem's hint (its action and parameters) in the dashboard's words: where to go and what
 * to press; the API's own route text is for API clients, not for operators. */
const HINTS = {
  train: () => "train a model on the New model page (Create and train)",
  change_model: (p) => `open ${p.model} from the Models page to see it, or choose another name`,
  list_datasets: () => "pick a dataset from the list on the New model page",
  add_feedback: () => "label more alarms as anomaly or normal in the version page's Operator feedback panel",
};

export function hintText(hint) {
  const words = hint && HINTS[hint.action];
  return words ? words(hint.params || {}) : "";
}

/** Show an error in words at the top of the page (or in `where`). */
export function showProblem(err, where) {
  const box = where || document.getElementById("problem");
  const problem = err instanceof ApiError ? err.problem : { detail: String(err && err.message || err) };
  const at = [problem.field && `field ${problem.field}`, problem.column && `column ${problem.column}`]
    .filter(Boolean).join(", ");
  const hint = hintText(problem.hint);
  box.textContent = (problem.detail || problem.title || "something went wrong") + (at ? ` (${at})` : "")
    + (hint ? ` — ${hint}` : "");
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

export function clearProblem(where) {
  const box = where || document.getElementById("problem");
  box.hidden = true;
  box.textContent = "";
}

/** Run an async page action; its failure is shown in words, never swallowed. */
export async function guarded(action, where) {
  try {
    clearProblem(where);
    return await action();
  } catch (err) {
    showProblem(err, where);
    return undefined;
  }
}

/** A DOM element: h("td", {class: "num"}, "3.2"). Text is always set as text (never parsed). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function num(value, digits = 4) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(2);
  return Number(value.toPrecision(digits)).toLocaleString("en-US", { maximumFractionDigits: 6 });
}

/** A score or threshold with 3 significant figures ("184.638182676" -> "185"). */
export function sig3(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return value.toExponential(2);
  return Number(value.toPrecision(3)).toLocaleString("en-US", { maximumFractionDigits: 6 });
}

export function pct(value) {
  return value === null || value === undefined ? "–" : `${(100 * value).toFixed(value < 0.01 && value > 0 ? 2 : 1)}%`;
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function value(v) {
  if (v === null || v === undefined) return "(missing)";
  return typeof v === "number" ? num(v) : String(v);
}

/** A progress bar (made, or filled into `el`) with set(fraction, label). */
export function progressBar(el = document.createElement("div")) {
  const bar = h("div", { class: "bar" });
  const label = h("span", { class: "label" });
  el.classList.add("progress");
  el.setAttribute("role", "progressbar");
  el.setAttribute("aria-valuemin", "0");
  el.setAttribute("aria-valuemax", "100");
  el.replaceChildren(bar, label);
  el.set = (fraction, text) => {
    const p = Math.max(0, Math.min(1, fraction || 0));
    bar.style.width = `${(100 * p).toFixed(1)}%`;
    el.setAttribute("aria-valuenow", String(Math.round(100 * p)));
    label.textContent = text || "";
  };
  return el;
}

/** What a training job's progress says, for a progress bar. */
export function trainingProgress(job) {
  const p = job.progress || {};
  if (job.status === "queued") return [0, "queued"];
  if (job.status === "succeeded") return [1, `done: ${p.epoch ?? "?"} epochs${p.elapsed_s != null ? ` in ${num(p.elapsed_s, 3)} s` : ""}`];
  if (job.status === "failed" || job.status === "cancelled") return [p.max_epochs ? (p.epoch || 0) / p.max_epochs : 0, job.status];
  if (!p.max_epochs) return [0, "starting"];
  const eta = p.eta_s != null ? `, about ${num(p.eta_s, 2)} s left` : "";
  return [p.epoch / p.max_epochs, `epoch ${p.epoch} of ${p.max_epochs}${eta}`];
}
